import { type Cipher, createCipheriv, createHash } from "node:crypto";
import { TENSOR_TYPES, type TensorTypeName } from "./gguf/ggufFormat.js";

/**
 * Random, numerically sane tensor data for benchmark and test models.
 *
 * Writing 16 GB of truly random floats would take minutes, so each tensor cycles through a
 * pool of valid blocks (~4 MiB) starting at a pseudo-random block. Speed depends only on shape
 * and type, so this runs at the real model's speed.
 *
 * Everything comes from one seeded generator: the same seed writes the same file, so the test
 * model (and what it says) is the same on every checkout and in CI.
 */
const POOL_TARGET_BYTES = 4 << 20;
const WEIGHT_STD = 0.02;

/**
 * A seeded byte stream: AES-128-CTR's keystream under a key derived from the seed (node:crypto,
 * so no hand-written generator), read in 64 KiB chunks.
 */
class SeededStream {
  private readonly cipher: Cipher;
  private readonly zeros = Buffer.alloc(1 << 16);
  private chunk = Buffer.alloc(0);
  private at = 0;
  private readonly word = Buffer.alloc(4);

  constructor(seed: number) {
    const key = createHash("sha256").update(`lunaris-random-weights:${seed}`).digest().subarray(0, 16);
    this.cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  }

  bytes(out: Buffer, at: number, n: number): void {
    for (let done = 0; done < n; ) {
      if (this.at === this.chunk.length) {
        this.chunk = this.cipher.update(this.zeros);
        this.at = 0;
      }
      const k = Math.min(n - done, this.chunk.length - this.at);
      this.chunk.copy(out, at + done, this.at, this.at + k);
      this.at += k;
      done += k;
    }
  }

  /** Uniform in [0, 1). */
  float(): number {
    this.bytes(this.word, 0, 4);
    return this.word.readUInt32LE(0) / 4294967296;
  }

  gaussian(): number {
    // Box-Muller; 1 - float() avoids log(0).
    return Math.sqrt(-2 * Math.log(1 - this.float())) * Math.cos(2 * Math.PI * this.float());
  }
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

function makeBlock(rng: SeededStream, kind: TensorTypeName, out: Buffer, at: number): void {
  switch (kind) {
    case "f32":
      out.writeFloatLE(rng.gaussian() * WEIGHT_STD, at);
      return;
    case "f16":
      out.writeUInt16LE(toF16Bits(rng.gaussian() * WEIGHT_STD), at);
      return;
    case "bf16":
      out.writeUInt16LE(toBf16Bits(rng.gaussian() * WEIGHT_STD), at);
      return;
    case "q8_0":
      // int8 quants are uniform in [-128,127] (std ~74): scale so weights have WEIGHT_STD.
      out.writeUInt16LE(toF16Bits(WEIGHT_STD / 74), at);
      rng.bytes(out, at + 2, 32);
      return;
    case "q4_0":
      out.writeUInt16LE(toF16Bits(WEIGHT_STD / 4.6), at);
      rng.bytes(out, at + 2, 16);
      return;
    case "q4_k":
      // d, dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles.
      out.writeUInt16LE(toF16Bits(WEIGHT_STD / 150), at);
      out.writeUInt16LE(toF16Bits(WEIGHT_STD / 150), at + 2);
      rng.bytes(out, at + 4, 140);
      return;
    case "q6_k":
      // ql[128], qh[64], int8 scales[16], then d.
      rng.bytes(out, at, 192);
      for (let i = 0; i < 16; i++) out.writeInt8(8 + Math.floor(rng.float() * 8), at + 192 + i);
      out.writeUInt16LE(toF16Bits(WEIGHT_STD / 400), at + 208);
      return;
    default:
      kind satisfies never;
  }
}

/** Tensor data from one seed: a pool of blocks a tensor type, each tensor starting at its own block. */
export class RandomWeights {
  private readonly rng: SeededStream;
  private readonly pools = new Map<TensorTypeName, Buffer>();

  constructor(seed: number) {
    this.rng = new SeededStream(seed);
  }

  private poolFor(type: TensorTypeName): Buffer {
    const cached = this.pools.get(type);
    if (cached) return cached;
    const { blockBytes } = TENSOR_TYPES[type];
    const blocks = Math.floor(POOL_TARGET_BYTES / blockBytes);
    const pool = Buffer.alloc(blocks * blockBytes);
    for (let b = 0; b < blocks; b++) makeBlock(this.rng, type, pool, b * blockBytes);
    this.pools.set(type, pool);
    return pool;
  }

  /** A `fill` for TensorSpec: cycles the type's pool from a block drawn now. */
  fill(type: TensorTypeName): (chunk: Buffer, byteOffset: number) => void {
    const pool = this.poolFor(type);
    const { blockBytes } = TENSOR_TYPES[type];
    const rotation = Math.floor(this.rng.float() * (pool.length / blockBytes)) * blockBytes;
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
}

/** A `fill` for f32 norm weights: all ones, as a freshly initialised RMSNorm. */
export function onesFill(chunk: Buffer): void {
  for (let i = 0; i + 4 <= chunk.length; i += 4) chunk.writeFloatLE(1, i);
}
