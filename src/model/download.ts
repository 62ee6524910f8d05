import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable, Transform } from "node:stream";
import { type HfRef, parseHfRef, pickGgufFile } from "./hfRef.js";

export interface DownloadOptions {
  cacheDir: string;
  /** Hugging Face endpoint; `HF_ENDPOINT` overrides it, as in Hugging Face's own tools. */
  endpoint?: string | undefined;
  token?: string | undefined;
  onProgress?: ((doneBytes: number, totalBytes: number | null) => void) | undefined;
  log?: ((message: string) => void) | undefined;
}

const CONNECT_TIMEOUT_MS = 15_000;

export class DownloadError extends Error {
  override name = "DownloadError";
}

function offlineHint(ref: string, cause: unknown): DownloadError {
  const why =
    cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause);
  return new DownloadError(
    `Could not download ${ref} (${why}). With no network, copy the GGUF file onto this machine and ` +
      "start with `lunaris serve --model /path/to/model.gguf` (or try the API with `--model demo`).",
  );
}

async function hfFetch(url: string, o: DownloadOptions, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (o.token) headers.set("authorization", `Bearer ${o.token}`);
  return fetch(url, { ...init, headers, redirect: "follow" });
}

async function resolveFile(ref: HfRef, base: string, o: DownloadOptions): Promise<string> {
  if (ref.file) return ref.file;
  const res = await hfFetch(`${base}/api/models/${ref.repo}`, o, { signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) });
  if (!res.ok) throw new DownloadError(`Hugging Face answered ${res.status} for the repository ${ref.repo}.`);
  const info = (await res.json()) as { siblings?: { rfilename: string }[] };
  const files = (info.siblings ?? []).map((s) => s.rfilename);
  const file = pickGgufFile(files, ref.quant ?? "");
  if (!file) throw new DownloadError(`No ${ref.quant} GGUF in ${ref.repo}; files: ${files.join(", ")}`);
  return file;
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(file), h);
  return h.digest("hex");
}

/**
 * Downloads a Hugging Face GGUF into the cache once: resumable (HTTP Range on a .part file),
 * size-checked, and sha256-checked against the LFS etag when the hub sends one.
 * Returns the local path.
 */
// eslint-disable-next-line max-lines-per-function -- one download in order: resolve, resume, stream with progress, verify size and sha256, rename
export async function downloadHfModel(refText: string, o: DownloadOptions): Promise<string> {
  const ref = parseHfRef(refText);
  const base = (o.endpoint ?? process.env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/$/, "");
  let file: string;
  try {
    file = await resolveFile(ref, base, o);
  } catch (e) {
    throw e instanceof DownloadError ? e : offlineHint(refText, e);
  }
  const dest = path.join(o.cacheDir, "hf", ref.repo, file);
  if (existsSync(dest)) return dest;
  mkdirSync(path.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const have = existsSync(part) ? statSync(part).size : 0;
  const url = `${base}/${ref.repo}/resolve/main/${file}`;
  let res: Response;
  try {
    res = await hfFetch(url, o, {
      headers: have > 0 ? { range: `bytes=${have}-` } : {},
      signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS),
    });
  } catch (e) {
    throw offlineHint(refText, e);
  }
  if (!res.ok || !res.body) throw new DownloadError(`Download of ${url} failed: HTTP ${res.status}.`);
  const resumed = res.status === 206;
  const start = resumed ? have : 0;
  const length = Number(res.headers.get("content-length") ?? Number.NaN);
  const total = Number.isFinite(length) ? start + length : null;
  const etag = (res.headers.get("x-linked-etag") ?? res.headers.get("etag") ?? "")
    .replace(/^W\//, "")
    .replace(/"/g, "");
  const expectedSha = /^[0-9a-f]{64}$/.test(etag) ? etag : null;
  o.log?.(`downloading ${ref.repo}/${file}${resumed ? ` (resuming at ${start} bytes)` : ""}`);
  let done = start;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      o.onProgress?.(done, total);
      cb(null, chunk);
    },
  });
  // Resumed bytes go at the offset the Range asked for, not at whatever the file's end is now.
  const out = createWriteStream(part, resumed ? { flags: "r+", start } : { flags: "w" });
  try {
    await pipeline(Readable.fromWeb(res.body as never), meter, out);
  } catch (e) {
    // pipeline() can reject while a write is still in flight on the file; a resume started before
    // it lands would read a size that then grows. Wait until the file is closed.
    // (Not events.once: the destroyed stream also emits the error, which would reject it.)
    if (!out.closed) await new Promise<void>((resolve) => out.once("close", () => resolve()));
    throw new DownloadError(
      `Download interrupted at ${done} bytes (${e instanceof Error ? e.message : String(e)}); run the same command again to resume.`,
    );
  }
  const size = statSync(part).size;
  if (total !== null && size !== total)
    throw new DownloadError(`Downloaded ${size} bytes, expected ${total}; run again to resume.`);
  if (expectedSha) {
    const got = await sha256Of(part);
    if (got !== expectedSha) {
      renameSync(part, `${part}.corrupt`);
      throw new DownloadError(`Checksum mismatch for ${file}: expected sha256 ${expectedSha}, got ${got}.`);
    }
  }
  renameSync(part, dest);
  return dest;
}
