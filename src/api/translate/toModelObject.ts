import { LUNARIS } from "../../catalog.js";
import type { ModelDescriptor } from "../../engine/types.js";
import type { ModelObject } from "../protocol/chatCompletionResponse.js";

/** A served id as `/v1/models` lists it: the catalogue's card, with what actually runs filled in once the engine is up. */
export function toModelObject(id: string, running: ModelDescriptor | null): ModelObject {
  return {
    id,
    object: "model",
    created: 1718841600, // the model's release (2024-06-20)
    owned_by: LUNARIS.ownedBy,
    context_length: running?.contextLength ?? LUNARIS.contextLength,
    max_tokens: running?.contextLength ?? LUNARIS.contextLength,
    pricing: {
      input_tokens: LUNARIS.prices.inputMicrosPerMillion / 1e6,
      output_tokens: LUNARIS.prices.outputMicrosPerMillion / 1e6,
      unit: "USD per 1M tokens",
    },
    metadata: {
      description: LUNARIS.description,
      precision: LUNARIS.precision,
      quantization: running?.quantization ?? null,
      file: running?.file ?? null,
      recommended_settings: LUNARIS.recommended,
      ...(running?.demo ? { demo: true, note: "demo model with random weights: replies are gibberish" } : {}),
    },
  };
}
