/**
 * GGUF v3 constants: the subset of the format the model maker writes.
 * Source of truth: ggml/include/gguf.h and ggml/include/ggml.h in llama.cpp.
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

export const enum GgufValueType {
  Uint8 = 0,
  Int8 = 1,
  Uint16 = 2,
  Int16 = 3,
  Uint32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  Uint64 = 10,
  Int64 = 11,
  Float64 = 12,
}

/** ggml tensor types the maker can write, with their block layout. */
export const TENSOR_TYPES = {
  f32: { id: 0, blockElements: 1, blockBytes: 4 },
  f16: { id: 1, blockElements: 1, blockBytes: 2 },
  q4_0: { id: 2, blockElements: 32, blockBytes: 18 },
  q8_0: { id: 8, blockElements: 32, blockBytes: 34 },
  q4_k: { id: 12, blockElements: 256, blockBytes: 144 },
  q6_k: { id: 14, blockElements: 256, blockBytes: 210 },
  bf16: { id: 30, blockElements: 1, blockBytes: 2 },
} as const;

export type TensorTypeName = keyof typeof TENSOR_TYPES;

/** `general.file_type` values (llama_ftype). */
export const FILE_TYPES = {
  f32: 0,
  f16: 1,
  q4_0: 2,
  q8_0: 7,
  q4_k_m: 15,
  bf16: 32,
} as const;

export type FileTypeName = keyof typeof FILE_TYPES;

export function tensorByteSize(type: TensorTypeName, elements: number): number {
  const t = TENSOR_TYPES[type];
  if (elements % t.blockElements !== 0) {
    throw new Error(`${elements} elements is not a multiple of the ${type} block (${t.blockElements})`);
  }
  return (elements / t.blockElements) * t.blockBytes;
}

export function alignUp(n: number, alignment = GGUF_ALIGNMENT): number {
  return Math.ceil(n / alignment) * alignment;
}
