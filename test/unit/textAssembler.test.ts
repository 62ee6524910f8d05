import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TextAssembler } from "../../src/engine/TextAssembler.js";

// A fake vocabulary: token id → text piece, with two tokens that are halves of "é" (0xC3 0xA9).
const PIECES: Record<number, Buffer> = {
  1: Buffer.from("Hello"),
  2: Buffer.from(" wor"),
  3: Buffer.from("ld"),
  4: Buffer.from("!"),
  5: Buffer.from([0xc3]),
  6: Buffer.from([0xa9]),
  7: Buffer.from(" END"),
  8: Buffer.from("ING"),
};
const detok = (tokens: number[]) => Buffer.concat(tokens.map((t) => PIECES[t] ?? Buffer.alloc(0))).toString("utf8");

function run(tokens: number[], stops: string[]): { deltas: string[]; stopped: boolean } {
  const a = new TextAssembler(detok, stops);
  const deltas: string[] = [];
  for (const t of tokens) {
    const d = a.push(t);
    if (d) deltas.push(d);
    if (a.hitStop) return { deltas, stopped: true };
  }
  const rest = a.flush();
  if (rest) deltas.push(rest);
  return { deltas, stopped: false };
}

describe("TextAssembler", () => {
  it("passes text through without stop sequences", () => {
    assert.deepEqual(run([1, 2, 3, 4], []).deltas, ["Hello", " wor", "ld", "!"]);
  });

  it("waits for a whole UTF-8 character split across tokens", () => {
    assert.deepEqual(run([1, 5, 6], []).deltas, ["Hello", "é"]);
  });

  it("cuts a stop sequence that spans tokens and never leaks its start", () => {
    const r = run([1, 2, 3, 4], ["world"]);
    assert.equal(r.stopped, true);
    assert.equal(r.deltas.join(""), "Hello ");
    assert.ok(
      r.deltas.every((d) => !d.includes("wor")),
      JSON.stringify(r.deltas),
    );
  });

  it("releases held text when the would-be stop sequence does not complete", () => {
    const r = run([1, 2, 4], ["world"]);
    assert.equal(r.stopped, false);
    assert.equal(r.deltas.join(""), "Hello wor!");
  });

  it("picks the earliest of several stop sequences", () => {
    const r = run([1, 2, 3, 7, 8], ["ENDING", "ld"]);
    assert.equal(r.deltas.join(""), "Hello wor");
  });

  it("flushes held text at the end of generation", () => {
    const r = run([1, 2], ["world"]);
    assert.equal(r.deltas.join(""), "Hello wor");
  });
});
