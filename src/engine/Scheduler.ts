import type { LlamaContext, LlamaContextSequence, LlamaModel } from "node-llama-cpp";
import { EngineError } from "./errors.js";
import { type ChoiceJob, Generation, commonPrefixLength } from "./Generation.js";
import { collectNativeGarbage, noteGenerationFinished } from "./nativeGarbage.js";

export interface SchedulerOptions {
  /** Choices that may wait for a sequence; beyond it → queue_full (HTTP 429). */
  maxQueue: number;
  /** How long a choice may wait for a sequence before queue_timeout (HTTP 503). */
  queueTimeoutMs: number;
  /** Force full GCs for node-llama-cpp's sampler buffers (prebuilt binaries only: see nativeGarbage.ts). */
  collectNativeGarbage: boolean;
}

interface Slot {
  sequence: LlamaContextSequence;
  busy: boolean;
  lastUsedAt: number;
}

interface QueuedJob {
  job: ChoiceJob;
  enqueuedAt: number;
  timer: NodeJS.Timeout;
  onAbort: () => void;
}

/**
 * Continuous batching over the sequences of one llama.cpp context.
 *
 * node-llama-cpp packs every decode request queued on the context into one `llama_decode`,
 * but independent per-request loops drift apart and rarely share a batch (ENGINE-NOTES §1a:
 * two free-running streams never batched). So one loop steps every decoding generation
 * together: issue all `next()` calls in the same tick, wait for all, repeat. New requests
 * join at the next step. A prefilling generation is not waited for: its prompt is decoded
 * in batch-size chunks alongside the running streams' tokens, so a long prompt slows the
 * others but never stalls them for its whole length.
 */
export class Scheduler {
  private readonly slots: Slot[];
  private readonly queue: QueuedJob[] = [];
  private readonly active = new Set<Generation>();
  private wake: (() => void) | null = null;
  private closed = false;
  private readonly loop: Promise<void>;
  /** Exponential moving average of choice run time, for Retry-After. */
  private avgJobMs = 5_000;

  constructor(
    context: LlamaContext,
    private readonly model: LlamaModel,
    private readonly options: SchedulerOptions,
  ) {
    this.slots = [];
    while (context.sequencesLeft > 0) {
      this.slots.push({ sequence: context.getSequence(), busy: false, lastUsedAt: 0 });
    }
    this.loop = this.run();
  }

  get queueDepth(): number {
    return this.queue.length;
  }
  get activeCount(): number {
    return this.active.size;
  }
  get sequenceCount(): number {
    return this.slots.length;
  }

  /** Queues the choices of one request together, or rejects them all when the queue is full. */
  submit(jobs: readonly ChoiceJob[]): void {
    if (this.closed) throw new EngineError("engine_closed", "The server is shutting down.");
    const free = this.slots.filter((s) => !s.busy).length;
    if (this.queue.length + jobs.length > this.options.maxQueue + free) {
      throw new EngineError(
        "queue_full",
        `The server is at capacity (${this.queue.length} requests waiting). Retry after a short wait.`,
        null,
        this.retryAfterS(),
      );
    }
    for (const job of jobs) this.enqueue(job);
    this.poke();
  }

  private enqueue(job: ChoiceJob): void {
    const entry: QueuedJob = {
      job,
      enqueuedAt: Date.now(),
      timer: setTimeout(() => {
        this.dequeue(entry);
        job.onError(
          new EngineError(
            "queue_timeout",
            `The request waited ${this.options.queueTimeoutMs} ms for a free sequence. Retry later.`,
            null,
            this.retryAfterS(),
          ),
        );
      }, this.options.queueTimeoutMs),
      onAbort: () => {
        this.dequeue(entry);
        job.onEnd("aborted", 0);
      },
    };
    job.signal.addEventListener("abort", entry.onAbort, { once: true });
    this.queue.push(entry);
  }

  private dequeue(entry: QueuedJob): void {
    const i = this.queue.indexOf(entry);
    if (i !== -1) this.queue.splice(i, 1);
    clearTimeout(entry.timer);
    entry.job.signal.removeEventListener("abort", entry.onAbort);
  }

  private retryAfterS(): number {
    const waves = Math.ceil((this.queue.length + 1) / Math.max(1, this.slots.length));
    return Math.max(1, Math.ceil((waves * this.avgJobMs) / 1000));
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** FIFO admission; the head job takes the free sequence sharing its longest prefix. */
  private admit(): void {
    for (;;) {
      const head = this.queue[0];
      if (!head) return;
      let best: Slot | null = null;
      let bestShared = -1;
      for (const slot of this.slots) {
        if (slot.busy) continue;
        const shared = commonPrefixLength(slot.sequence.contextTokens, head.job.prompt);
        // Ties go to the least recently used sequence, keeping fresher caches for later turns.
        if (shared > bestShared || (shared === bestShared && best && slot.lastUsedAt < best.lastUsedAt)) {
          best = slot;
          bestShared = shared;
        }
      }
      if (!best) return;
      this.dequeue(head);
      best.busy = true;
      this.active.add(new Generation(head.job, best.sequence, this.model));
    }
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      this.admit();
      if (this.options.collectNativeGarbage) collectNativeGarbage(this.active.size === 0);
      if (this.active.size === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      for (const g of this.active) {
        if (g.inflight || g.finished) continue;
        if (g.job.signal.aborted) {
          await g.finish("aborted");
          continue;
        }
        g.inflight = this.advance(g);
      }
      const decoding = [...this.active].flatMap((g) => (g.phase === "decode" && g.inflight ? [g.inflight] : []));
      if (decoding.length > 0) {
        await Promise.all(decoding);
      } else {
        const pending = [...this.active].flatMap((g) => (g.inflight ? [g.inflight] : []));
        const woken = new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        if (pending.length > 0) await Promise.race([...pending, woken]);
      }
      this.reap();
    }
  }

  private async advance(g: Generation): Promise<void> {
    try {
      await g.step();
    } catch (error) {
      await g.fail(error);
    } finally {
      g.inflight = null;
    }
  }

  /** Frees the sequences of finished generations. */
  private reap(): void {
    for (const g of this.active) {
      if (!g.finished || g.inflight) continue;
      this.active.delete(g);
      const slot = this.slots.find((s) => s.sequence === g.sequence);
      if (slot) {
        slot.busy = false;
        slot.lastUsedAt = Date.now();
      }
      this.avgJobMs = 0.9 * this.avgJobMs + 0.1 * (Date.now() - g.startedAt);
      noteGenerationFinished();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of [...this.queue]) {
      this.dequeue(entry);
      entry.job.onError(new EngineError("engine_closed", "The server is shutting down."));
    }
    for (const g of this.active) await g.fail(new EngineError("engine_closed", "The server is shutting down."));
    this.poke();
    await this.loop;
  }
}
