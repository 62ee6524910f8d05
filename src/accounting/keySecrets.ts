import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const SECRET_PREFIX = "lun-";
const VISIBLE_CHARS = 12;

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Constant-time comparison of two hex digests of equal length. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A new key: the secret (shown once), its hash (stored), and a short visible prefix. */
export function newSecret(): { secret: string; hash: string; prefix: string; id: string } {
  const secret = `${SECRET_PREFIX}${randomBytes(32).toString("base64url")}`;
  return {
    secret,
    hash: hashSecret(secret),
    prefix: secret.slice(0, VISIBLE_CHARS),
    id: `key_${randomBytes(6).toString("hex")}`,
  };
}
