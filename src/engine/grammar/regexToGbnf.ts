import { RegExpParser } from "@eslint-community/regexpp";
import type { AST } from "@eslint-community/regexpp";
import { GbnfRules, MAX_REPEAT, classChar, literal, repeat } from "./gbnf.js";

/** A regular-expression feature a grammar cannot express. */
export class UnsupportedPattern extends Error {}

/** Code points as sorted, merged, inclusive ranges; `negate` means "every code point but these". */
interface CodeSet {
  negate: boolean;
  ranges: [number, number][];
}

const DIGIT: [number, number][] = [[0x30, 0x39]];
const WORD: [number, number][] = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: [number, number][] = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
const LINE_TERMINATORS: [number, number][] = [
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
];

function merge(ranges: [number, number][]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(ranges: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of merge(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}

function contains(set: CodeSet, code: number): boolean {
  const inRanges = set.ranges.some(([lo, hi]) => code >= lo && code <= hi);
  return set.negate ? !inRanges : inRanges;
}

/** JSON's escape for a code point that cannot appear raw inside a JSON string. */
function jsonEscape(code: number): string {
  const short: Record<number, string> = {
    0x22: '\\"',
    0x5c: "\\\\",
    0x08: "\\b",
    0x0c: "\\f",
    0x0a: "\\n",
    0x0d: "\\r",
    0x09: "\\t",
  };
  return short[code] ?? `\\u${code.toString(16).padStart(4, "0")}`;
}

/** Characters that must be escaped inside a JSON string. */
const NEEDS_ESCAPE: number[] = [0x22, 0x5c, ...Array.from({ length: 0x20 }, (_, i) => i)];

/**
 * GBNF for one character of `set`, as it is written inside a JSON string: raw where JSON
 * allows it, escaped (`\"`, `\\`, `\n`, `\u0001`) where it does not.
 */
function codeSetToGbnf(set: CodeSet): string {
  const only = set.ranges[0];
  if (!set.negate && set.ranges.length === 1 && only && only[0] === only[1]) {
    return NEEDS_ESCAPE.includes(only[0]) ? literal(jsonEscape(only[0])) : literal(String.fromCodePoint(only[0]));
  }
  const alts: string[] = [];
  const rangeText = (ranges: [number, number][]) =>
    ranges.map(([lo, hi]) => (lo === hi ? classChar(lo) : `${classChar(lo)}-${classChar(hi)}`)).join("");
  if (set.negate) {
    alts.push(`[^${rangeText(merge([...set.ranges, [0x22, 0x22], [0x5c, 0x5c], [0x00, 0x1f]]))}]`);
  } else {
    const raw = complement(merge([...complement(set.ranges), [0x22, 0x22], [0x5c, 0x5c], [0x00, 0x1f]]));
    if (raw.length > 0) alts.push(`[${rangeText(raw)}]`);
  }
  for (const code of NEEDS_ESCAPE) if (contains(set, code)) alts.push(literal(jsonEscape(code)));
  if (alts.length === 0) throw new UnsupportedPattern("a character class that matches nothing");
  return alts.length === 1 ? (alts[0] as string) : `(${alts.join(" | ")})`;
}

function charSetRanges(node: AST.CharacterSet): CodeSet {
  switch (node.kind) {
    case "digit":
      return { negate: node.negate, ranges: DIGIT };
    case "word":
      return { negate: node.negate, ranges: WORD };
    case "space":
      return { negate: node.negate, ranges: SPACE };
    case "any":
      return { negate: true, ranges: LINE_TERMINATORS };
    default:
      throw new UnsupportedPattern(`the character set ${node.raw}`);
  }
}

/** A class's elements as one set (negated members are folded into plain ranges). */
function classRanges(node: AST.CharacterClass): CodeSet {
  const ranges: [number, number][] = [];
  for (const e of node.elements) {
    if (e.type === "Character") ranges.push([e.value, e.value]);
    else if (e.type === "CharacterClassRange") ranges.push([e.min.value, e.max.value]);
    else if (e.type === "CharacterSet") {
      const s = charSetRanges(e as AST.CharacterSet);
      ranges.push(...(s.negate ? complement(s.ranges) : s.ranges));
    } else throw new UnsupportedPattern(`the class element ${e.raw}`);
  }
  return { negate: node.negate, ranges: merge(ranges) };
}

/** Any one character of a JSON string, with JSON's escapes written generically (one short rule keeps sampling cheaper). */
export function jsonCharRule(rules: GbnfRules): string {
  return rules.add("char", `[^"\\\\\\x00-\\x1f] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4})`);
}

function elementToGbnf(e: AST.Element, rules: GbnfRules): string {
  switch (e.type) {
    case "Character":
      return codeSetToGbnf({ negate: false, ranges: [[e.value, e.value]] });
    case "CharacterClass":
      return codeSetToGbnf(classRanges(e));
    case "CharacterSet":
      return codeSetToGbnf(charSetRanges(e));
    case "Group":
    case "CapturingGroup":
      return `(${alternativesToGbnf(e.alternatives, rules)})`;
    case "Quantifier": {
      // A repeated part that can match nothing ((a*)*, (.*){1,1000}) makes the grammar
      // ambiguous at every character: llama.cpp's parse stacks multiply without end.
      if (e.max > 1 && canBeEmpty(e.element))
        throw new UnsupportedPattern(`the repetition ${e.raw} of a part that can match nothing`);
      if (e.min > MAX_REPEAT || (e.max !== Infinity && e.max > MAX_REPEAT))
        throw new UnsupportedPattern(`a repetition count above ${MAX_REPEAT} (${e.raw})`);
      const inner = elementToGbnf(e.element, rules);
      const atom = /^(\(.*\)|\[[^\]]*\]|"[^"]*")$/.test(inner) ? inner : `(${inner})`;
      if (e.min === 0 && e.max === 1) return `${atom}?`;
      return repeat(rules, atom, e.min, e.max === Infinity ? undefined : e.max);
    }
    case "Assertion":
      throw new UnsupportedPattern(
        e.kind === "start" || e.kind === "end" ? `the anchor ${e.raw} inside the pattern` : `the assertion ${e.raw}`,
      );
    default:
      throw new UnsupportedPattern(`${e.raw} (${e.type})`);
  }
}

/** Whether a regex element can match the empty string. */
function canBeEmpty(e: AST.Element): boolean {
  switch (e.type) {
    case "Character":
    case "CharacterClass":
    case "CharacterSet":
      return false;
    case "Group":
    case "CapturingGroup":
      return e.alternatives.some((a) => a.elements.every(canBeEmpty));
    case "Quantifier":
      return e.min === 0 || canBeEmpty(e.element);
    default:
      return true;
  }
}

function alternativeToGbnf(a: AST.Alternative, rules: GbnfRules): string {
  const parts = a.elements.map((e) => elementToGbnf(e, rules));
  return parts.length === 0 ? '""' : parts.join(" ");
}

function alternativesToGbnf(alts: readonly AST.Alternative[], rules: GbnfRules): string {
  return alts.map((a) => alternativeToGbnf(a, rules)).join(" | ");
}

function parse(pattern: string): AST.Pattern {
  const parser = new RegExpParser({ ecmaVersion: 2025 });
  try {
    return parser.parsePattern(pattern, 0, pattern.length, { unicode: true });
  } catch {
    try {
      return parser.parsePattern(pattern, 0, pattern.length, { unicode: false });
    } catch (e) {
      throw new UnsupportedPattern(`an invalid regular expression (${(e as Error).message})`);
    }
  }
}

/** A whole-match regex (no anchors needed) as a GBNF expression, e.g. digit ranges. */
export function regexToGbnf(source: string, rules: GbnfRules): string {
  return `(${alternativesToGbnf(parse(source).alternatives, rules)})`;
}

/**
 * The rule for the contents of a JSON string (without its quotes) whose value matches the
 * ECMAScript `pattern`. JSON Schema patterns are not anchored: `^` and `$` at the ends of a
 * top-level alternative anchor it, otherwise any text may come before or after.
 */
export function patternToGbnf(pattern: string, rules: GbnfRules): string {
  const ast = parse(pattern);
  const any = `${jsonCharRule(rules)}*`;
  const alts = ast.alternatives.map((alt) => {
    const elements = [...alt.elements];
    const first = elements[0];
    const anchoredStart = first?.type === "Assertion" && first.kind === "start";
    if (anchoredStart) elements.shift();
    const last = elements[elements.length - 1];
    const anchoredEnd = last?.type === "Assertion" && last.kind === "end";
    if (anchoredEnd) elements.pop();
    const body = elements.map((e) => elementToGbnf(e, rules));
    return [anchoredStart ? null : any, ...body, anchoredEnd ? null : any].filter((s) => s !== null).join(" ") || '""';
  });
  return rules.add("pattern", alts.length === 1 ? (alts[0] as string) : `(${alts.join(" | ")})`);
}
