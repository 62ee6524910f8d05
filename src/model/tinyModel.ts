import path from "node:path";
import { ensureModel } from "./makeModel.js";

/** Where the tests and the engine benchmarks keep the models they generate. */
export const TEST_CACHE = path.resolve(".cache/test");

/** The tiny random-weights model (fixed seed: the same weights on every checkout), written once (≈1 s) and shared by tests and benchmarks. */
export function tinyModelPath(): string {
  return ensureModel(TEST_CACHE, "tiny", "q8_0");
}
