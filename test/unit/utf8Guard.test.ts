import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Utf8Guard, Utf8Vocabulary, utf8After } from "../../src/engine/grammar/utf8Guard.js";

const bytes = (...b: number[]) => Uint8Array.from(b);

describe("strict UTF-8 decoder", () => {
  it("accepts characters of every length, also split at any byte", () => {
    for (const ch of ["a", "é", "€", "ࠀ", "😀", "\u{10ffff}"]) {
      const all = new TextEncoder().encode(ch);
      assert.equal(utf8After(0, all), 0, ch);
      let s = 0;
      for (const b of all) s = utf8After(s, bytes(b));
      assert.equal(s, 0, `${ch} byte by byte`);
    }
    assert.notEqual(utf8After(0, bytes(0xf0, 0x9f)), 0, "half an emoji is inside a character");
  });

  it("rejects what llama.cpp's grammar lets through", () => {
    const invalid: [string, Uint8Array][] = [
      ["stray continuation", bytes(0x80)],
      ["overlong '\"' (C0 A2)", bytes(0xc0, 0xa2)],
      ["C1 lead", bytes(0xc1)],
      ["overlong three-byte form", bytes(0xe0, 0x80, 0xa2)],
      ["surrogate", bytes(0xed, 0xa0, 0x80)],
      ["overlong four-byte form", bytes(0xf0, 0x80)],
      ["above U+10FFFF", bytes(0xf4, 0x90)],
      ["F5–FF leads", bytes(0xf8)],
      ["ASCII where a continuation belongs", bytes(0xc3, 0x41)],
    ];
    for (const [name, b] of invalid) assert.equal(utf8After(0, b), -1, name);
  });
});

describe("Utf8Guard", () => {
  // A fake vocabulary: 0 "a", 1 "é" whole, 2 its lead, 3 its continuation, 4 F8, 5 a stray continuation + "b".
  const pieces = [bytes(0x61), bytes(0xc3, 0xa9), bytes(0xc3), bytes(0xa9), bytes(0xf8), bytes(0x80, 0x62)];
  const vocab = new Utf8Vocabulary({ size: pieces.length, uncached: (t) => pieces[t] as Uint8Array });

  it("between characters bans only tokens that cannot start valid text", () => {
    assert.deepEqual(new Utf8Guard(vocab).next([]).banned, [3, 4, 5]);
  });

  it("inside a character allows only its continuations, and follows the tokens generated", () => {
    const guard = new Utf8Guard(vocab);
    const generated = [0, 2];
    assert.deepEqual(guard.next(generated).banned, [0, 1, 2, 4]); // 5: its continuation completes "é", then "b"
    generated.push(3);
    assert.deepEqual(guard.next(generated), { state: 0, banned: [3, 4, 5] });
  });
});
