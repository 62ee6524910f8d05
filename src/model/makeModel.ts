import { existsSync, mkdirSync, renameSync } from "node:fs";
import path from "node:path";
import { type MetadataValue, type TensorSpec, writeGguf } from "./gguf/GgufWriter.js";
import { FILE_TYPES, type TensorTypeName } from "./gguf/ggufFormat.js";
import { LLAMA3_VOCAB_SIZE, llama3TokenizerMetadata } from "./llama3Tokenizer.js";
import { RandomWeights, onesFill } from "./randomWeights.js";

/** Llama-architecture shapes the project generates. */
export const SHAPES = {
  /** A few small layers: loads in well under a second, for tests. */
  tiny: { layers: 2, embd: 256, ff: 512, heads: 4, kvHeads: 2, context: 8192 },
  /** Llama 3.2 1B's shape: quick benchmark runs with the same architecture. */
  small: { layers: 16, embd: 2048, ff: 8192, heads: 32, kvHeads: 8, context: 8192 },
  /** Sao10K/L3-8B-Lunaris-v1 (Llama 3 8B): for benchmarks at the real model's speed. */
  lunaris: { layers: 32, embd: 4096, ff: 14336, heads: 32, kvHeads: 8, context: 8192 },
} as const;

export type ShapeName = keyof typeof SHAPES;
/** The seed the demo, test and benchmark models are written with. */
export const DEFAULT_SEED = 1;
export const MODEL_TYPES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m"] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

export interface MakeModelOptions {
  shape: ShapeName;
  type: ModelType;
  out: string;
  /** Same seed, same file. */
  seed?: number;
  onProgress?: (writtenBytes: number, totalBytes: number) => void;
}

/** Per-tensor type for a file type; Q4_K_M keeps the sensitive tensors at 6 bits, as llama-quantize does. */
function tensorType(fileType: ModelType, role: "matrix" | "sensitive"): TensorTypeName {
  if (fileType === "q4_k_m") return role === "sensitive" ? "q6_k" : "q4_k";
  return fileType;
}

export interface ModelSpec {
  metadata: Map<string, MetadataValue>;
  tensors: TensorSpec[];
}

/** The GGUF metadata and tensor list of a random-weights Llama 3 model (no data is generated yet). */
export function modelSpec(shape: ShapeName, type: ModelType, seed = DEFAULT_SEED): ModelSpec {
  const weights = new RandomWeights(seed);
  const s = SHAPES[shape];
  const headDim = s.embd / s.heads;
  const kvWidth = headDim * s.kvHeads;
  const vocab = LLAMA3_VOCAB_SIZE;
  const metadata = new Map<string, MetadataValue>([
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: `lunaris-random-${shape}` }],
    ["general.file_type", { type: "u32", value: FILE_TYPES[type] }],
    ["general.quantization_version", { type: "u32", value: 2 }],
    ["llama.context_length", { type: "u32", value: s.context }],
    ["llama.embedding_length", { type: "u32", value: s.embd }],
    ["llama.block_count", { type: "u32", value: s.layers }],
    ["llama.feed_forward_length", { type: "u32", value: s.ff }],
    ["llama.attention.head_count", { type: "u32", value: s.heads }],
    ["llama.attention.head_count_kv", { type: "u32", value: s.kvHeads }],
    ["llama.rope.freq_base", { type: "f32", value: 500000 }],
    ["llama.rope.dimension_count", { type: "u32", value: headDim }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: 1e-5 }],
    ["llama.vocab_size", { type: "u32", value: vocab }],
    ...llama3TokenizerMetadata(),
  ]);
  const matrix = (name: string, cols: number, rows: number, role: "matrix" | "sensitive" = "matrix"): TensorSpec => {
    const t = tensorType(type, role);
    return { name, dims: [cols, rows], type: t, fill: weights.fill(t) };
  };
  const norm = (name: string): TensorSpec => ({ name, dims: [s.embd], type: "f32", fill: onesFill });
  const tensors: TensorSpec[] = [matrix("token_embd.weight", s.embd, vocab), norm("output_norm.weight")];
  tensors.push(matrix("output.weight", s.embd, vocab, "sensitive"));
  for (let i = 0; i < s.layers; i++) {
    const p = `blk.${i}.`;
    tensors.push(
      norm(`${p}attn_norm.weight`),
      matrix(`${p}attn_q.weight`, s.embd, s.embd),
      matrix(`${p}attn_k.weight`, s.embd, kvWidth),
      matrix(`${p}attn_v.weight`, s.embd, kvWidth, "sensitive"),
      matrix(`${p}attn_output.weight`, s.embd, s.embd),
      norm(`${p}ffn_norm.weight`),
      matrix(`${p}ffn_gate.weight`, s.embd, s.ff),
      matrix(`${p}ffn_up.weight`, s.embd, s.ff),
      matrix(`${p}ffn_down.weight`, s.ff, s.embd, "sensitive"),
    );
  }
  return { metadata, tensors };
}

export function makeModel({ shape, type, out, seed = DEFAULT_SEED, onProgress }: MakeModelOptions): number {
  const { metadata, tensors } = modelSpec(shape, type, seed);
  return writeGguf(out, metadata, tensors, onProgress);
}

/**
 * The default-seed model of a shape and type under `dir`, written on first use (written to a
 * temporary name and renamed, so concurrent test files never read half a file). The seed is in
 * the name: a file written by another generator is never reused.
 */
export function ensureModel(
  dir: string,
  shape: ShapeName,
  type: ModelType,
  o: { prefix?: string; onWrite?: () => void } = {},
): string {
  const file = path.join(dir, `${o.prefix ?? "lunaris"}-${shape}-${type}-seed${DEFAULT_SEED}.gguf`);
  if (!existsSync(file)) {
    o.onWrite?.();
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    makeModel({ shape, type, out: tmp });
    renameSync(tmp, file);
  }
  return file;
}
