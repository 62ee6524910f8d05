import { createHash, timingSafeEqual } from "node:crypto";

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/**
 * Static API keys (LUNARIS_API_KEYS): only their hashes are kept, and comparison is
 * constant-time. With no keys, every request is allowed (the server then binds loopback only).
 */
export class KeyRing {
  private readonly hashes: { id: string; hash: Buffer }[];

  constructor(keys: readonly string[]) {
    this.hashes = keys.map((k, i) => ({ id: `env-${i}:${k.slice(0, 6)}`, hash: digest(k) }));
  }

  get size(): number {
    return this.hashes.length;
  }

  authenticate(token: string | null): { keyId: string | null } | null {
    if (this.hashes.length === 0) return { keyId: null };
    if (token === null) return null;
    const h = digest(token);
    let found: string | null = null;
    // Compare against every key so timing does not reveal which one (or whether any) matched.
    for (const k of this.hashes) if (timingSafeEqual(h, k.hash)) found = k.id;
    return found === null ? null : { keyId: found };
  }
}
