import { LlamaEngine } from "../../src/engine/llama/LlamaEngine.js";
import { tinyModelPath } from "./testModel.js";

/** The engine alone (no server) on the tiny model: one sequence, a short context, CPU. */
export function loadTinyEngine(): Promise<LlamaEngine> {
  return LlamaEngine.load({
    modelPath: tinyModelPath(),
    id: "test",
    aliases: [],
    demo: true,
    gpu: "off",
    contextSize: 512,
    parallel: 1,
    maxQueue: 1,
    queueTimeoutMs: 1000,
    log: () => undefined,
  });
}
