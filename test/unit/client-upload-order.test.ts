import { describe, expect, test } from "vitest";
import { sendWhileHashing } from "../../clients/node/src/upload-order.js";

describe("sendWhileHashing", () => {
  test("hashFirst, when given, decides", () => {
    const idle = { cores: 8, load: 0 };
    const saturated = { cores: 1, load: 4 };
    expect(sendWhileHashing(true, idle)).toBe(false);
    expect(sendWhileHashing(false, saturated)).toBe(true);
  });

  test("unset: send while hashing only when a core is free for the hash", () => {
    expect(sendWhileHashing(undefined, { cores: 2, load: 0.3 })).toBe(true);
    expect(sendWhileHashing(undefined, { cores: 2, load: 1 })).toBe(true);
    expect(sendWhileHashing(undefined, { cores: 2, load: 1.2 })).toBe(false);
    expect(sendWhileHashing(undefined, { cores: 2, load: 15 })).toBe(false);
    // One core with anything else running: the hash would share it with the sending.
    expect(sendWhileHashing(undefined, { cores: 1, load: 0.1 })).toBe(false);
    expect(sendWhileHashing(undefined, { cores: 4, load: 2.5 })).toBe(true);
  });
});
