import type { Engine } from "../types.js";

/** One llama_decode, as seen from node-llama-cpp's native context. */
export interface DecodeRecord {
  /** Sequence of each one-token entry (a generating stream's next token), in batch order. */
  decodeSeqs: number[];
  /** Tokens in the batch (prompt chunks included). */
  tokens: number;
  /** performance.now() when the decode was queued and when it resolved (null until then). */
  startedAt: number;
  endedAt: number | null;
}

/**
 * White box: hooks node-llama-cpp's native context (the engine's `context._ctx`) to record every
 * batch: which sequences' tokens entered it, in what order, and how long its decode took. Used
 * by the scheduler tests (batch order) and the server-share benchmark (time outside llama_decode).
 */
export function logDecodes(engine: Engine): DecodeRecord[] {
  type Native = Record<string, (...a: unknown[]) => unknown>;
  const native = (engine as unknown as { context: { _ctx: Native } }).context._ctx;
  const log: DecodeRecord[] = [];
  const bound = (name: string) => {
    const fn = native[name];
    if (typeof fn !== "function") throw new Error(`node-llama-cpp's context has no ${name}: the hook needs updating`);
    return fn.bind(native);
  };
  const init = bound("initBatch");
  const add = bound("addToBatch");
  const decode = bound("decodeBatch");
  const patch = (name: string, fn: (...a: unknown[]) => unknown) =>
    Object.defineProperty(native, name, { value: fn, configurable: true, writable: true });
  patch("initBatch", (...a: unknown[]) => {
    log.push({ decodeSeqs: [], tokens: a[0] as number, startedAt: 0, endedAt: null });
    return init(...a);
  });
  patch("addToBatch", (...a: unknown[]) => {
    if ((a[2] as ArrayLike<number>).length === 1) log.at(-1)?.decodeSeqs.push(a[0] as number);
    return add(...a);
  });
  patch("decodeBatch", (...a: unknown[]) => {
    const rec = log.at(-1);
    if (rec) rec.startedAt = performance.now();
    return (decode(...a) as Promise<unknown>).then((r) => {
      if (rec) rec.endedAt = performance.now();
      return r;
    });
  });
  return log;
}
