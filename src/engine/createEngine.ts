import { LlamaEngine, type LlamaEngineOptions } from "./llama/LlamaEngine.js";
import type { Engine } from "./types.js";

/**
 * Which engine serves the API, from configuration. Today the one kind runs the model in
 * process on llama.cpp (engine/llama/); engines that call other servers (Lunaris nodes,
 * llama-server, OpenAI-compatible servers) implement the same `Engine` under engine/remote/.
 */
export type EngineConfig = { kind: "llama" } & LlamaEngineOptions;

export function createEngine(config: EngineConfig): Promise<Engine> {
  switch (config.kind) {
    case "llama":
      return LlamaEngine.load(config);
    default:
      return config.kind satisfies never;
  }
}
