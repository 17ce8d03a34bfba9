import { describe, expect, test } from "vitest";
import { planBatches } from "../../clients/node/src/log-artifact.js";
import { planParts } from "../../clients/node/src/plan-parts.js";

const MIB = 1024 * 1024;
const partsOf = (count: number) =>
  Array.from({ length: count }, (_, i) => ({ partNumber: i + 1, url: `http://store/p${i + 1}`, headers: {} }));

describe("planParts", () => {
  test("covers the file with consecutive ranges; the last part is short", () => {
    const parts = planParts(12 * MIB + 3, { uploadId: "u", partSize: 5 * MIB, parts: partsOf(3) });
    expect(parts.map((p) => [p.partNumber, p.start, p.end])).toEqual([
      [1, 0, 5 * MIB],
      [2, 5 * MIB, 10 * MIB],
      [3, 10 * MIB, 12 * MIB + 3],
    ]);
    expect(parts[2]!.url).toBe("http://store/p3");
  });

  test("an exact multiple has no empty trailing part", () => {
    const parts = planParts(10 * MIB, { uploadId: "u", partSize: 5 * MIB, parts: partsOf(2) });
    expect(parts.at(-1)).toMatchObject({ start: 5 * MIB, end: 10 * MIB });
  });

  test("parts listed out of order are put in order", () => {
    const parts = planParts(10 * MIB, { uploadId: "u", partSize: 5 * MIB, parts: partsOf(2).reverse() });
    expect(parts.map((p) => p.partNumber)).toEqual([1, 2]);
  });

  test("headers default to none", () => {
    const [part] = planParts(1, { uploadId: "u", partSize: 5 * MIB, parts: [{ partNumber: 1, url: "u" } as never] });
    expect(part!.headers).toEqual({});
  });

  test.each([
    ["a missing part", 12 * MIB, partsOf(2)],
    ["an extra part", 10 * MIB, partsOf(3)],
    ["a duplicated part", 10 * MIB, [...partsOf(1), ...partsOf(1)]],
  ])("refuses a plan with %s", (_what, size, parts) => {
    expect(() => planParts(size, { uploadId: "u", partSize: 5 * MIB, parts })).toThrow(/expected parts 1 to/);
  });

  test("refuses a nonsensical part size", () => {
    expect(() => planParts(10, { uploadId: "u", partSize: 0, parts: partsOf(1) })).toThrow(/invalid part size/);
  });
});

describe("planBatches", () => {
  test("keeps each plan request under a URL budget, counting parts at 5 MiB", () => {
    const small = { size: 10 };
    const big = { size: 50 * MIB }; // up to 10 URLs
    const huge = { size: 100 * 1024 * MIB }; // capped at 1000 URLs
    const batches = planBatches([...Array(15).fill(small), big, huge, huge, small], 1020);
    expect(batches.map((b) => b.length)).toEqual([16, 1, 2]);
  });

  test("a single blob over the budget still gets a batch of its own", () => {
    expect(planBatches([{ size: 100 * 1024 * MIB }], 10)).toHaveLength(1);
    expect(planBatches([])).toEqual([]);
  });
});
