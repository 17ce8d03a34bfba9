/** Runs what it is given with at most `concurrency` in flight, in the order given. */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/**
 * A concurrency limit for fan-outs inside a use case (presigning, heads, deliveries). The core
 * uses no npm package (see docs/architecture.md), so this small queue stands in for p-limit.
 */
export function limiter(concurrency: number): Limiter {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, not ${concurrency}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    active--;
    waiting.shift()?.();
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      release();
    }
  };
}
