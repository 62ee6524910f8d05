/**
 * Exact request pricing. Prices are integer micro-dollars per million tokens, so
 * tokens × price is an integer number of pico-dollars (1e-12 USD): no float ever accumulates.
 */
export interface Prices {
  inputMicrosPerMillion: number;
  outputMicrosPerMillion: number;
}

export function costPicoUsd(promptTokens: number, completionTokens: number, p: Prices): bigint {
  return (
    BigInt(promptTokens) * BigInt(p.inputMicrosPerMillion) + BigInt(completionTokens) * BigInt(p.outputMicrosPerMillion)
  );
}

/** Pico-dollars as a decimal USD string, e.g. 360000n → "0.00000036". */
export function picoToUsdString(pico: bigint): string {
  const sign = pico < 0n ? "-" : "";
  const abs = pico < 0n ? -pico : pico;
  const whole = abs / 1_000_000_000_000n;
  const frac = (abs % 1_000_000_000_000n).toString().padStart(12, "0").replace(/0+$/, "");
  return `${sign}${whole}${frac ? `.${frac}` : ""}`;
}

/** USD as a JSON number, parsed from the exact decimal (the nearest double, never a drifted sum). */
export function picoToUsd(pico: bigint): number {
  return Number(picoToUsdString(pico));
}
