import { describe, expect, test } from "vitest";
import { sendWhileHashing } from "../../clients/node/src/upload-order.js";

describe("sendWhileHashing", () => {
  test("hashFirst, when given, decides", () => {
    expect(sendWhileHashing(true, { cores: 8, load: 0 })).toBe(false);
    expect(sendWhileHashing(false, { cores: 1, load: 40 })).toBe(true);
  });

  test("unset: send while hashing unless the machine runs 3 or more tasks per core", () => {
    expect(sendWhileHashing(undefined, { cores: 2, load: 0.3 })).toBe(true);
    expect(sendWhileHashing(undefined, { cores: 2, load: 5.9 })).toBe(true);
    expect(sendWhileHashing(undefined, { cores: 2, load: 6 })).toBe(false);
    expect(sendWhileHashing(undefined, { cores: 2, load: 15 })).toBe(false);
    expect(sendWhileHashing(undefined, { cores: 1, load: 13 })).toBe(false);
    expect(sendWhileHashing(undefined, { cores: 16, load: 30 })).toBe(true);
  });
});
