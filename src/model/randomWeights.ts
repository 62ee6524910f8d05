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

/** sfc32 (Chris Doty-Humphrey's small fast counter): 128-bit state, passes PractRand, 32 bits a call. */
class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = seed >>> 0;
    for (let i = 0; i < 12; i++) this.next();
  }

  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  bytes(out: Buffer, at: number, n: number): void {
    for (let i = 0; i < n; i += 4) {
      let r = this.next();
      for (let j = i; j < Math.min(i + 4, n); j++, r >>>= 8) out[at + j] = r & 0xff;
    }
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

function makeBlock(rng: Sfc32, kind: TensorTypeName, out: Buffer, at: number): void {
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
  private readonly rng: Sfc32;
  private readonly pools = new Map<TensorTypeName, Buffer>();

  constructor(seed: number) {
    this.rng = new Sfc32(seed);
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
