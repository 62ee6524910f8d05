import { existsSync, mkdirSync, renameSync } from "node:fs";
import path from "node:path";
import { makeModel } from "../../src/model/makeModel.js";

export const TEST_CACHE = path.resolve(".cache/test");

/** The tiny random-weights model, generated once per checkout (≈1 s) and shared by test files. */
export function tinyModelPath(): string {
  const file = path.join(TEST_CACHE, "tiny-q8_0.gguf");
  if (!existsSync(file)) {
    mkdirSync(TEST_CACHE, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    makeModel({ shape: "tiny", type: "q8_0", out: tmp });
    renameSync(tmp, file);
  }
  return file;
}
