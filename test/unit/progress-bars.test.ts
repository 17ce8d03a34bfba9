import { Writable } from "node:stream";
import { describe, expect, test } from "vitest";
import { terminalProgress } from "../../clients/node/src/progress-bars.js";

/** A terminal that keeps what was drawn on it. */
function fakeTerminal(isTTY = true) {
  let text = "";
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  Object.assign(stream, {
    isTTY,
    columns: 160,
    rows: 40,
    cursorTo: () => true,
    moveCursor: () => true,
    clearLine: () => true,
    clearScreenDown: () => true,
  });
  return { stream: stream as unknown as NodeJS.WriteStream, drawn: () => text };
}

describe("terminalProgress", () => {
  test("draws nothing at all when stderr is not a terminal", () => {
    expect(terminalProgress(fakeTerminal(false).stream)).toBeUndefined();
  });

  test("draws overlapping phases together, and a phase started again grows its total", () => {
    const terminal = fakeTerminal();
    const progress = terminalProgress(terminal.stream)!;
    progress.start("upload", 1024);
    progress.start("hash", 2048);
    progress.advance("hash", 2048);
    progress.start("upload", 1024);
    progress.advance("upload", 1536);
    progress.end("hash");
    progress.end("upload");
    const drawn = terminal.drawn();
    expect(drawn).toContain("hashing     [");
    expect(drawn).toContain("| 2.0 KiB/2.0 KiB |");
    expect(drawn).toContain("uploading   [");
    expect(drawn).toContain("| 1.5 KiB/2.0 KiB |");
  });

  test("a phase whose planned work is dropped shrinks, and close stops what a failure left running", () => {
    const terminal = fakeTerminal();
    const progress = terminalProgress(terminal.stream)!;
    progress.start("upload", 4096);
    progress.start("upload", -3072);
    progress.advance("upload", 1024);
    progress.close();
    expect(terminal.drawn()).toContain("| 1.0 KiB/1.0 KiB |");
  });
});
