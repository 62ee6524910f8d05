/** Accounting domain types: keys, limits and usage rows. Money is integer (micro- or pico-dollars). */

export interface KeyLimits {
  /** Requests per minute; null = unlimited. */
  rpm: number | null;
  /** Tokens (prompt + completion) per minute; null = unlimited. */
  tpm: number | null;
  maxConcurrent: number | null;
  /** Monthly budget in micro-dollars (1e-6 USD); null = unlimited. */
  monthlyBudgetMicros: number | null;
}

export interface KeyRecord extends KeyLimits {
  id: string;
  name: string;
  /** The first characters of the secret, to recognise a key in lists and logs. */
  prefix: string;
  /** sha256 of the secret, hex. The secret itself is never stored. */
  hash: string;
  isAdmin: boolean;
  createdAt: number;
  revokedAt: number | null;
}

/** Who is calling: a stored key, an environment key (unlimited), or nobody when auth is off. */
export interface Principal {
  keyId: string | null;
  prefix: string | null;
  isAdmin: boolean;
  limits: KeyLimits | null;
}

export interface UsageRow {
  requestId: string;
  keyId: string | null;
  user: string | null;
  model: string;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  costPico: bigint;
  finishReason: string;
  status: number;
  latencyMs: number;
  createdAt: number;
}

export interface UsageFilter {
  keyId?: string | undefined;
  /** Epoch ms, inclusive. */
  since?: number | undefined;
  /** Epoch ms, exclusive. */
  until?: number | undefined;
}

export interface UsageBucket {
  date: string;
  model: string;
  keyId: string | null;
  requests: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  costPico: bigint;
}
