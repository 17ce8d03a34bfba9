import { describe, expect, it } from "vitest";
import { numericKeys, seriesFor } from "../../web/src/lib/chart-data";

const versions = [
  { version: "v2", index: 2, metadata: { acc: 0.97, loss: "0.1", name: "c", train: { lr: 0.001 } } },
  { version: "v0", index: 0, metadata: { acc: 0.9, loss: 0.4, name: "a", train: { lr: 0.01 } } },
  { version: "v1", index: 1, metadata: { acc: 0.95, name: "b" } },
];

describe("chart data", () => {
  it("offers the keys that hold numbers (numeric strings too) in at least two versions", () => {
    expect(numericKeys(versions)).toEqual(["acc", "loss", "train.lr"]);
    expect(numericKeys([versions[0]!])).toEqual(["acc", "loss", "train.lr"]);
  });

  it("orders a series oldest first and leaves gaps where a version lacks the key", () => {
    expect(seriesFor(versions, "train.lr")).toEqual({
      key: "train.lr",
      labels: ["v0", "v1", "v2"],
      x: [0, 1, 2],
      y: [0.01, null, 0.001],
      min: 0.001,
      max: 0.01,
      best: "v0",
    });
  });

  it("names the version with the highest value, the newest on a tie", () => {
    expect(seriesFor(versions, "acc").best).toBe("v2");
    const tie = [
      { version: "v0", index: 0, metadata: { acc: 1 } },
      { version: "v1", index: 1, metadata: { acc: 1 } },
    ];
    expect(seriesFor(tie, "acc").best).toBe("v1");
  });

  it("has no minimum, maximum or best when no version holds a number", () => {
    expect(seriesFor(versions, "name")).toMatchObject({ y: [null, null, null], min: null, max: null, best: null });
  });
});
