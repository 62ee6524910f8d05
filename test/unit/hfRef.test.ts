import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseHfRef, pickGgufFile } from "../../src/model/hfRef.js";

describe("Hugging Face references", () => {
  it("parses repo:QUANT and repo/file forms", () => {
    assert.deepEqual(parseHfRef("hf:bartowski/L3-8B-Lunaris-v1-GGUF:Q4_K_M"), {
      repo: "bartowski/L3-8B-Lunaris-v1-GGUF",
      file: null,
      quant: "Q4_K_M",
    });
    assert.deepEqual(parseHfRef("hf:a/b/sub/m.gguf"), { repo: "a/b", file: "sub/m.gguf", quant: null });
    assert.throws(() => parseHfRef("hf:justone"), /not a Hugging Face reference/);
    assert.throws(() => parseHfRef("hf:a/b"), /names no file/);
  });

  it("picks the single-file GGUF for a quantization", () => {
    const files = [
      "README.md",
      "L3-8B-Lunaris-v1-Q4_K_M.gguf",
      "L3-8B-Lunaris-v1-Q4_K_S.gguf",
      "L3-8B-Lunaris-v1-IQ4_XS.gguf",
    ];
    assert.equal(pickGgufFile(files, "q4_k_m"), "L3-8B-Lunaris-v1-Q4_K_M.gguf");
    assert.equal(pickGgufFile(files, "Q8_0"), null);
  });
});
