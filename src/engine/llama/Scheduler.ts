import type { LlamaContext, LlamaContextSequence, LlamaModel } from "node-llama-cpp";
import { EngineError, generationFailed } from "../errors.js";
import { chooseSequence } from "./sequenceChoice.js";
import { type ChoiceJob, Generation } from "./Generation.js";
import { commonPrefixLength } from "./tokens.js";
import type { PrefixStore } from "./PrefixStore.js";
import { collectNativeGarbage, noteGenerationFinished } from "./nativeGarbage.js";

export interface SchedulerOptions {
  /** Choices that may wait for a sequence; beyond it → queue_full (HTTP 429). */
  maxQueue: number;
  /** How long a choice may wait for a sequence before queue_timeout (HTTP 503). */
  queueTimeoutMs: number;
  /** Force full GCs for node-llama-cpp's sampler buffers (prebuilt binaries only: see nativeGarbage.ts). */
  collectNativeGarbage: boolean;
  /** Keeps long prefixes when their sequence is reused, for when their conversation returns. */
  prefixes: PrefixStore | null;
  /**
   * A sequence that would give up this many cached tokens or more (the prefix store's
   * threshold) is taken only when it shares LONG_CACHE_MARGIN tokens more than any other.
   */
  longCacheTokens: number;
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

/** Resolves after the event loop has been round once, its poll phase (new requests) included. */
function oneEventLoopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** Event-loop turns an idle scheduler waits for more requests while they keep arriving. */
const MAX_GATHER_TURNS = 4;

/**
 * Continuous batching over the sequences of one llama.cpp context.
 *
 * node-llama-cpp packs every decode request queued on the context into one `llama_decode`,
 * but independent per-request loops drift apart and rarely share a batch (docs/engine.md, "Scheduling":
 * two free-running streams never batched). So one loop steps every decoding generation
 * together: issue all steps in the same tick, wait for all, repeat. New requests join at the
 * next step. A prompt is read in chunks that fill what the generating streams leave of the
 * batch (chunked prefill, as in vLLM), so a long prompt slows the others but never stalls
 * them: they get a token in every step.
 */
export class Scheduler {
  private readonly slots: Slot[];
  /** Tokens one llama_decode takes (node-llama-cpp's batchSize). */
  private readonly batchSize: number;
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
    this.batchSize = context.batchSize;
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

  /** FIFO admission: the head job takes the free sequence chooseSequence (sequenceChoice.ts) picks. */
  private admit(): void {
    for (;;) {
      const head = this.queue[0];
      if (!head) return;
      const views = this.slots.map((slot) => {
        const held = slot.sequence.contextTokens;
        return {
          busy: slot.busy,
          held: held.length,
          shared: slot.busy ? 0 : commonPrefixLength(held, head.job.prompt),
          lastUsedAt: slot.lastUsedAt,
        };
      });
      const chosen = chooseSequence(views, this.options.longCacheTokens);
      if (chosen === null) return;
      const slot = this.slots[chosen] as Slot;
      this.dequeue(head);
      slot.busy = true;
      this.active.add(new Generation(head.job, slot.sequence, this.model, this.options.prefixes));
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
        await this.gatherArrivals();
        continue;
      }
      await Promise.all(this.stepAll());
      this.reap();
    }
  }

  /**
   * Starts one step of every active generation in the same tick, so node-llama-cpp packs them
   * into one batch: each generating sequence's next token, then prompt chunks in admission
   * order (a Set iterates in insertion order) within what is left of the batch. A prompt
   * longer than that is read over several steps, and the streams beside it get a token in
   * every one of them.
   */
  private stepAll(): Promise<void>[] {
    const steps: Promise<void>[] = [];
    const live = [...this.active].filter((g) => !g.finished);
    let budget = this.batchSize - live.filter((g) => g.unreadPromptTokens === 0).length;
    const planned: { g: Generation; chunk: number }[] = [];
    for (const g of live) {
      if (g.job.signal.aborted) {
        steps.push(g.finish("aborted"));
        continue;
      }
      const unread = g.unreadPromptTokens;
      const chunk = g.promptChunk(Math.max(0, budget));
      if (unread > 0 && chunk === 0) continue;
      budget -= chunk;
      planned.push({ g, chunk });
    }
    // Budgets go in admission order; the steps are issued in slot order, which is sequence-id
    // order (the constructor took the sequences in id order) and the order their tokens enter
    // the batch. llama.cpp keeps each sequence's KV in its own stream and puts sequences in one
    // ubatch only while their ids ascend one by one (split_equal), so four streams admitted as
    // 2, 0, 1, 3 were decoded as {2, 3} then {0, 1}: two passes over the weights. On the 8B
    // shape a 4-stream step took ~480 ms instead of ~400 once earlier requests had left the
    // sequences in another order (llama-server fills its batch by slot).
    for (const slot of this.slots) {
      const p = planned.find((x) => x.g.sequence === slot.sequence);
      if (!p) continue;
      p.g.inflight = this.advance(p.g, p.chunk);
      steps.push(p.g.inflight);
    }
    return steps;
  }

  /**
   * Woken from idle by a request: lets the event loop go round while more requests keep
   * arriving (a few turns at most), so a burst that reached the server together (a client's
   * parallel calls) shares the first batch: on a GPU a batch of prompts costs about what one
   * does. On a CPU reading costs the same per token batched or not (8B shape: 38 tokens in one
   * step 3.2 s, 21 alone 2.0 s), so waiting longer for stragglers was tried and dropped. A lone
   * request pays one turn, tens of microseconds.
   */
  private async gatherArrivals(): Promise<void> {
    for (let turn = 0; turn < MAX_GATHER_TURNS; turn++) {
      const queued = this.queue.length;
      await oneEventLoopTurn();
      if (this.queue.length === queued) return;
    }
  }

  private async advance(g: Generation, promptBudget: number): Promise<void> {
    try {
      await g.step(promptBudget);
    } catch (error) {
      await g.fail(generationFailed(error));
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
