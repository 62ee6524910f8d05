import v8 from "node:v8";
import vm from "node:vm";

/**
 * node-llama-cpp creates a native sampler for every `seq.evaluate` call. Its 128k-entry
 * candidate buffer (~1.5 MB for Llama 3's vocabulary) is freed only by the JS wrapper's
 * finalizer, and V8 does not see that memory, so under steady traffic RSS climbs by ~1.5 MB
 * per request until a GC happens to run (measured on the tiny model: 480 → 797 MB over 1,200
 * requests; back to 395 MB after one full GC). So the scheduler asks for a full GC: when it
 * goes idle with 32 finished generations behind it, or every 128 generations under
 * continuous load (~25 ms a collection on the tiny model, so ~0.2–0.8 ms per request).
 * Minor / option-form collections did not free the buffers (RSS grew to 2.1 GB).
 * Only for node-llama-cpp's prebuilt binaries: the local engine build (patches/) frees the
 * buffer when the sampler is disposed (tiny model, 1,200 requests without these GCs: 406 →
 * 422 MB), so it needs none of these ~25 ms pauses.
 */
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const WHEN_IDLE = 32;
const UNDER_LOAD = 128;
let pending = 0;

export function noteGenerationFinished(): void {
  pending++;
}

/** Collects when worthwhile; `idle`: no generation is running right now. */
export function collectNativeGarbage(idle: boolean): void {
  if (pending >= UNDER_LOAD || (idle && pending >= WHEN_IDLE)) {
    pending = 0;
    gc();
  }
}
