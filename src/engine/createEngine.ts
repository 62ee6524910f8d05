import { LlamaEngine, type LlamaEngineOptions } from "./llama/LlamaEngine.js";
import { FleetEngine, type FleetOptions } from "./remote/FleetEngine.js";
import { LlamaServerClient } from "./remote/LlamaServerClient.js";
import { LunarisNodeClient } from "./remote/LunarisNodeClient.js";
import { OpenAiClient } from "./remote/OpenAiClient.js";
import type { UpstreamClient, UpstreamConfig } from "./remote/upstream.js";
import type { Engine } from "./types.js";

/**
 * Which engine serves the API, from configuration: the model in process on llama.cpp
 * (engine/llama/), or a fleet of upstream engines reached over HTTP (engine/remote/).
 */
export type EngineConfig =
  | ({ kind: "llama" } & LlamaEngineOptions)
  | ({ kind: "fleet"; upstreams: readonly UpstreamConfig[] } & Omit<FleetOptions, "clients">);

export function upstreamClient(config: UpstreamConfig): UpstreamClient {
  switch (config.kind) {
    case "lunaris":
      return new LunarisNodeClient(config);
    case "llama-server":
      return new LlamaServerClient(config);
    case "openai":
      return new OpenAiClient(config);
    default:
      return config.kind satisfies never;
  }
}

export function createEngine(config: EngineConfig): Promise<Engine> {
  switch (config.kind) {
    case "llama":
      return LlamaEngine.load(config);
    case "fleet":
      return FleetEngine.start({ ...config, clients: config.upstreams.map(upstreamClient) });
    default:
      return config satisfies never;
  }
}
