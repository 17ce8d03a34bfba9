/**
 * The API key lives in sessionStorage only: it is gone when the tab closes, it never goes
 * into a URL, and nothing here logs it.
 */
const KEY = "mreg.apiKey";

type Listener = (key: string | null) => void;
const listeners = new Set<Listener>();

export function currentKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function signIn(key: string): void {
  sessionStorage.setItem(KEY, key);
  for (const listener of listeners) listener(key);
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
  for (const listener of listeners) listener(null);
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
