/**
 * A single-consumer async queue: the scheduler pushes, the HTTP layer pulls with `for await`.
 * Breaking out of the loop (client gone) calls `onClose`, which aborts the generation.
 */
export class EventChannel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | null = null;
  private failure: ((e: unknown) => void) | null = null;
  private error: unknown = null;
  private ended = false;

  constructor(private readonly onClose: () => void = () => {}) {}

  push(item: T): void {
    if (this.ended) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      this.failure = null;
      w({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.error = error;
    if (this.waiter) {
      const w = this.waiter;
      const f = this.failure;
      this.waiter = null;
      this.failure = null;
      if (error !== undefined) f?.(error);
      else w({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.ended) {
          if (this.error !== null) {
            const e = this.error;
            this.error = null;
            return Promise.reject(e instanceof Error ? e : new Error(String(e)));
          }
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => {
          this.waiter = resolve;
          this.failure = reject;
        });
      },
      return: () => {
        this.ended = true;
        this.onClose();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
