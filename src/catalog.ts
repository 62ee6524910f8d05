/**
 * Model catalogue: what the provider serves and how it prices it. Money is integer
 * micro-dollars per million tokens, so costs are exact integers (see accounting/pricing.ts).
 */
export interface CatalogEntry {
  id: string;
  ownedBy: string;
  description: string;
  contextLength: number;
  /** Precision the provider serves; the quantization actually served is reported by the engine. */
  precision: string;
  /** Default `--model` reference. */
  defaultFile: string;
  prices: { inputMicrosPerMillion: number; outputMicrosPerMillion: number };
  /** The model card's recommended sampling settings (shown, never applied silently). */
  recommended: { temperature: number; min_p: number };
}

export const LUNARIS: CatalogEntry = {
  id: "Sao10K/L3-8B-Lunaris-v1",
  ownedBy: "Sao10K",
  description: "A generalist / roleplaying merge of Llama 3 8B models, tuned for creative writing and character chat.",
  contextLength: 8192,
  precision: "bfloat16",
  defaultFile: "hf:bartowski/L3-8B-Lunaris-v1-GGUF:Q4_K_M",
  prices: { inputMicrosPerMillion: 30_000, outputMicrosPerMillion: 60_000 }, // $0.03 / $0.06 per 1M tokens
  recommended: { temperature: 1.4, min_p: 0.1 },
};

/** The generated random-weights model behind `--model demo`. */
export const DEMO_ID = "lunaris-demo-random";
