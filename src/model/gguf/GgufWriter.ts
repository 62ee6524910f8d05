import { closeSync, openSync, writeSync } from "node:fs";
import {
  GGUF_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  GgufValueType,
  TENSOR_TYPES,
  type TensorTypeName,
  alignUp,
  tensorByteSize,
} from "./ggufFormat.js";

export type MetadataValue =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: readonly string[] }
  | { type: "i32[]"; value: readonly number[] };

export interface TensorSpec {
  name: string;
  /** ggml order: dims[0] is the fastest-varying (row length). */
  dims: readonly number[];
  type: TensorTypeName;
  /** Called with consecutive chunks to fill; must fill the whole buffer. */
  fill: (chunk: Buffer, byteOffset: number) => void;
}

/** Growable little-endian byte builder for the header and metadata. */
class ByteBuilder {
  private buf = Buffer.alloc(1 << 20);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + extra));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number): void {
    this.ensure(4);
    this.length = this.buf.writeUInt32LE(v, this.length);
  }
  i32(v: number): void {
    this.ensure(4);
    this.length = this.buf.writeInt32LE(v, this.length);
  }
  u64(v: number): void {
    this.ensure(8);
    this.length = this.buf.writeBigUInt64LE(BigInt(v), this.length);
  }
  f32(v: number): void {
    this.ensure(4);
    this.length = this.buf.writeFloatLE(v, this.length);
  }
  u8(v: number): void {
    this.ensure(1);
    this.length = this.buf.writeUInt8(v, this.length);
  }
  str(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  padTo(alignment: number): void {
    const target = alignUp(this.length, alignment);
    this.ensure(target - this.length);
    this.buf.fill(0, this.length, target);
    this.length = target;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function writeValue(b: ByteBuilder, v: MetadataValue): void {
  switch (v.type) {
    case "u32":
      b.u32(GgufValueType.Uint32);
      b.u32(v.value);
      return;
    case "i32":
      b.u32(GgufValueType.Int32);
      b.i32(v.value);
      return;
    case "f32":
      b.u32(GgufValueType.Float32);
      b.f32(v.value);
      return;
    case "bool":
      b.u32(GgufValueType.Bool);
      b.u8(v.value ? 1 : 0);
      return;
    case "string":
      b.u32(GgufValueType.String);
      b.str(v.value);
      return;
    case "string[]":
      b.u32(GgufValueType.Array);
      b.u32(GgufValueType.String);
      b.u64(v.value.length);
      for (const s of v.value) b.str(s);
      return;
    case "i32[]":
      b.u32(GgufValueType.Array);
      b.u32(GgufValueType.Int32);
      b.u64(v.value.length);
      for (const n of v.value) b.i32(n);
      return;
    default:
      v satisfies never;
  }
}

const CHUNK_BYTES = 8 << 20; // 8 MiB writes keep memory flat for 16 GB files

/**
 * Writes a GGUF v3 file: header, metadata, tensor infos, then each tensor's data
 * streamed in chunks so an 8B model never sits in memory.
 */
export function writeGguf(
  path: string,
  metadata: ReadonlyMap<string, MetadataValue>,
  tensors: readonly TensorSpec[],
  onProgress?: (writtenBytes: number, totalBytes: number) => void,
): number {
  const head = new ByteBuilder();
  head.u32(GGUF_MAGIC);
  head.u32(GGUF_VERSION);
  head.u64(tensors.length);
  head.u64(metadata.size);
  for (const [key, value] of metadata) {
    head.str(key);
    writeValue(head, value);
  }
  const sizes = tensors.map((t) =>
    tensorByteSize(
      t.type,
      t.dims.reduce((a, d) => a * d, 1),
    ),
  );
  let offset = 0;
  tensors.forEach((t, i) => {
    head.str(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(TENSOR_TYPES[t.type].id);
    head.u64(offset);
    offset = alignUp(offset + (sizes[i] ?? 0));
  });
  head.padTo(GGUF_ALIGNMENT);
  const total = head.length + offset;

  const fd = openSync(path, "w");
  try {
    let written = writeSync(fd, head.bytes());
    const chunk = Buffer.alloc(CHUNK_BYTES);
    tensors.forEach((t, i) => {
      const size = sizes[i] ?? 0;
      for (let done = 0; done < size; ) {
        const n = Math.min(CHUNK_BYTES, size - done);
        const view = chunk.subarray(0, n);
        t.fill(view, done);
        written += writeSync(fd, view);
        done += n;
      }
      const pad = alignUp(size) - size;
      if (pad > 0) written += writeSync(fd, Buffer.alloc(pad));
      onProgress?.(written, total);
    });
    return written;
  } finally {
    closeSync(fd);
  }
}
