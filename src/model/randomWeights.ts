import { randomBytes } from "node:crypto";
import { TENSOR_TYPES, type TensorTypeName } from "./gguf/ggufFormat.js";

/**
 * Random, numerically sane tensor data for benchmark and test models.
 *
 * Writing 16 GB of truly random floats would take minutes, so each tensor cycles through a
 * pool of valid blocks (~4 MiB) starting at a random block. Speed depends only on shape and
 * type, so this runs at the real model's speed.
 */
const POOL_TARGET_BYTES = 4 << 20;
const WEIGHT_STD = 0.02;

function gaussian(): number {
  // Box-Muller; 1 - random() avoids log(0).
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function toBf16Bits(x: number): number {
  f32[0] = x;
  return ((u32[0] ?? 0) >>> 16) & 0xffff;
}

/** IEEE half from a float, round-to-nearest, enough for the small magnitudes used here. */
export function toF16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0] ?? 0;
  const sign = (bits >>> 16) & 0x8000;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  const mant = bits & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >> (1 - exp);
    return sign | ((m + 0x1000) >> 13);
  }
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | ((mant + 0x1000) >> 13);
}

function makeBlock(kind: TensorTypeName, out: Buffer, at: number): void {
  switch (kind) {
    case "f32":
      out.writeFloatLE(gaussian() * WEIGHT_STD, at);
      return;
    case "f16":
      out.writeUInt16LE(toF16Bits(gaussian() * WEIGHT_STD), at);
      return;
    case "bf16":
      out.writeUInt16LE(toBf16Bits(gaussian() * WEIGHT_STD), at);
      return;
    case "q8_0":
      // int8 quants are uniform in [-128,127] (std ~74): scale so weights have WEIGHT_STD.
      out.writeUInt16LE(toF16Bits(WEIGHT_STD / 74), at);
      randomBytes(32).copy(out, at + 2);
      return;
    case "q4_0":
      out.writeUInt16LE(toF16Bits(WEIGHT_STD / 4.6), at);
      randomBytes(16).copy(out, at + 2);
      return;
    case "q4_k":
      // d, dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles.
      out.writeUInt16LE(toF16Bits(WEIGHT_STD / 150), at);
      out.writeUInt16LE(toF16Bits(WEIGHT_STD / 150), at + 2);
      randomBytes(140).copy(out, at + 4);
      return;
    case "q6_k":
      // ql[128], qh[64], int8 scales[16], then d.
      randomBytes(192).copy(out, at);
      for (let i = 0; i < 16; i++) out.writeInt8(8 + Math.floor(Math.random() * 8), at + 192 + i);
      out.writeUInt16LE(toF16Bits(WEIGHT_STD / 400), at + 208);
      return;
    default:
      kind satisfies never;
  }
}

const pools = new Map<TensorTypeName, Buffer>();

function poolFor(type: TensorTypeName): Buffer {
  const cached = pools.get(type);
  if (cached) return cached;
  const { blockBytes } = TENSOR_TYPES[type];
  const blocks = Math.floor(POOL_TARGET_BYTES / blockBytes);
  const pool = Buffer.alloc(blocks * blockBytes);
  for (let b = 0; b < blocks; b++) makeBlock(type, pool, b * blockBytes);
  pools.set(type, pool);
  return pool;
}

/** A `fill` for TensorSpec: cycles the type's pool from a random block. */
export function randomFill(type: TensorTypeName): (chunk: Buffer, byteOffset: number) => void {
  const pool = poolFor(type);
  const { blockBytes } = TENSOR_TYPES[type];
  const rotation = Math.floor(Math.random() * (pool.length / blockBytes)) * blockBytes;
  return (chunk, byteOffset) => {
    let src = (byteOffset + rotation) % pool.length;
    for (let dst = 0; dst < chunk.length; ) {
      const n = Math.min(pool.length - src, chunk.length - dst);
      pool.copy(chunk, dst, src, src + n);
      dst += n;
      src = 0;
    }
  };
}

/** A `fill` for f32 norm weights: all ones, as a freshly initialised RMSNorm. */
export function onesFill(chunk: Buffer): void {
  for (let i = 0; i + 4 <= chunk.length; i += 4) chunk.writeFloatLE(1, i);
}
