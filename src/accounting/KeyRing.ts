import { createHash, timingSafeEqual } from "node:crypto";

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/**
 * Keys given in the environment or on the command line: only their hashes are kept, and
 * comparison is constant-time.
 */
export class KeyRing {
  private readonly hashes: { id: string; hash: Buffer }[];

  constructor(keys: readonly string[], idPrefix = "env") {
    this.hashes = keys.map((k, i) => ({ id: `${idPrefix}-${i}`, hash: digest(k) }));
  }

  get size(): number {
    return this.hashes.length;
  }

  /** The matching key's id, or null. Compares against every key so timing reveals nothing. */
  match(token: string): string | null {
    const h = digest(token);
    let found: string | null = null;
    for (const k of this.hashes) if (timingSafeEqual(h, k.hash)) found = k.id;
    return found;
  }
}
