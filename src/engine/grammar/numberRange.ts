import toRegexRange from "to-regex-range";
import { UnsupportedSchema } from "./errors.js";

/**
 * GBNF for JSON numbers within bounds, without exponents. Integers use exact digit ranges
 * (via to-regex-range); decimals are split into an integer part and a fraction so that, for
 * integer bounds, every output is in range: below the top integer any fraction, at the
 * bounds only what keeps the value inside.
 */
export interface Bounds {
  min: number | undefined;
  exclusiveMin: boolean;
  max: number | undefined;
  exclusiveMax: boolean;
}

const MAX_DIGITS = 16;
const FRACTION = `("." [0-9]{1,${MAX_DIGITS}})`;
/** A fraction with a non-zero digit: the value is strictly above its integer part. */
const NONZERO_FRACTION = `("." "0"{0,${MAX_DIGITS - 1}} [1-9] [0-9]{0,${MAX_DIGITS - 1}})`;
const ZERO_FRACTION = `("." "0"{1,${MAX_DIGITS}})`;

/** Digits of a non-negative integer in [lo, hi] (hi undefined: no upper bound), as a regex source. */
function digitsRegex(lo: number, hi: number | undefined): string {
  if (hi !== undefined) return toRegexRange(lo, hi);
  const width = String(lo).length;
  const sameWidth = toRegexRange(lo, 10 ** width - 1);
  return `${sameWidth}|[1-9][0-9]{${width},${MAX_DIGITS - 1}}`;
}

/** Non-negative values between lo and hi (hi undefined: unbounded), each end open or closed. */
function nonNegative(
  lo: number,
  loOpen: boolean,
  hi: number | undefined,
  hiOpen: boolean,
  integer: boolean,
  regex: (s: string) => string,
): string | null {
  if (integer) {
    const a = loOpen ? lo + 1 : lo;
    const b = hi === undefined ? undefined : hiOpen ? hi - 1 : hi;
    if (b !== undefined && b < a) return null;
    return regex(digitsRegex(a, b));
  }
  const alts: string[] = [];
  if (hi !== undefined && lo === hi) return loOpen || hiOpen ? null : `${regex(String(lo))} ${ZERO_FRACTION}?`;
  alts.push(`${regex(String(lo))} ${loOpen ? NONZERO_FRACTION : `${FRACTION}?`}`);
  if (hi === undefined || hi - 1 >= lo + 1)
    alts.push(`(${regex(digitsRegex(lo + 1, hi === undefined ? undefined : hi - 1))}) ${FRACTION}?`);
  if (hi !== undefined && !hiOpen) alts.push(`${regex(String(hi))} ${ZERO_FRACTION}?`);
  return alts.map((a) => `(${a})`).join(" | ");
}

/**
 * @param regex turns a digits-only regex source into a GBNF expression
 * @param pointer where the bounds are, for errors
 */
export function numberRangeGbnf(b: Bounds, integer: boolean, regex: (s: string) => string, pointer: string): string {
  let { min, max, exclusiveMin, exclusiveMax } = b;
  if (integer) {
    if (min !== undefined) {
      min = exclusiveMin ? Math.floor(min) + 1 : Math.ceil(min);
      exclusiveMin = false;
    }
    if (max !== undefined) {
      max = exclusiveMax ? Math.ceil(max) - 1 : Math.floor(max);
      exclusiveMax = false;
    }
  } else if ((min !== undefined && !Number.isInteger(min)) || (max !== undefined && !Number.isInteger(max))) {
    throw new UnsupportedSchema(pointer, "non-integer 'minimum'/'maximum' on a number (integer bounds are supported)");
  }
  for (const v of [min, max]) {
    if (v !== undefined && Math.abs(v) >= 10 ** (MAX_DIGITS - 1))
      throw new UnsupportedSchema(pointer, `the bound ${v} (at most ${MAX_DIGITS - 1} digits)`);
  }
  const alts: string[] = [];
  // Negative values: x = -y with y between -max and -min (ends swap).
  if (min === undefined || min < 0) {
    const negHi = min === undefined ? undefined : -min;
    const [negLo, negLoOpen] = max !== undefined && max < 0 ? [-max, exclusiveMax] : [0, true];
    const neg = nonNegative(negLo, negLoOpen, negHi, min === undefined ? false : exclusiveMin, integer, regex);
    if (neg !== null) alts.push(`"-" (${neg})`);
  }
  if (max === undefined || max >= 0) {
    const [lo, loOpen] = min !== undefined && min >= 0 ? [min, exclusiveMin] : [0, false];
    const pos = nonNegative(lo, loOpen, max, exclusiveMax, integer, regex);
    if (pos !== null) alts.push(pos);
  }
  if (alts.length === 0) throw new UnsupportedSchema(pointer, "a numeric range that contains no value");
  return alts.map((a) => `(${a})`).join(" | ");
}
