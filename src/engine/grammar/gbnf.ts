/**
 * A small builder for llama.cpp GBNF grammars: named rules, deduplicated by body, so
 * converters can emit a rule per schema node without blowing up the grammar.
 */
export class GbnfRules {
  private readonly rules = new Map<string, string>();
  private readonly byBody = new Map<string, string>();

  /** Adds `name ::= body` (a fresh name if taken) and returns the name; an identical body reuses its rule. */
  add(name: string, body: string): string {
    const existing = this.byBody.get(body);
    if (existing !== undefined) return existing;
    const unique = this.freshName(name);
    this.rules.set(unique, body);
    this.byBody.set(body, unique);
    return unique;
  }

  /** Reserves a name to be defined later (recursive references). */
  reserve(name: string): string {
    const unique = this.freshName(name);
    this.rules.set(unique, "");
    return unique;
  }

  define(name: string, body: string): void {
    this.rules.set(name, body);
  }

  has(name: string): boolean {
    return this.rules.has(name);
  }

  private freshName(name: string): string {
    const base = name.replace(/[^a-zA-Z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "r";
    let unique = base;
    for (let i = 2; this.rules.has(unique); i++) unique = `${base}-${i}`;
    return unique;
  }

  /** The grammar text, `root` first. */
  toString(): string {
    const lines: string[] = [];
    const root = this.rules.get("root");
    if (root !== undefined) lines.push(`root ::= ${root}`);
    for (const [name, body] of this.rules) if (name !== "root") lines.push(`${name} ::= ${body}`);
    return lines.join("\n") + "\n";
  }
}

/**
 * llama.cpp's grammar parser expands `x{m,n}` into n copies, turns any n above 2000 into
 * "unbounded" (a `maxLength: 2001` came back 8,001 characters long) and refuses a rule whose
 * repetitions multiply to 2000 or more (`[0-9]{8} "-" [0-9]{4}…` in one rule). So every counted
 * repetition gets a rule of its own, cut into chunks of at most REPEAT_CHUNK.
 */
const REPEAT_CHUNK = 1000;

/** Largest repetition count a schema or pattern may ask for (beyond it: unsupported). */
export const MAX_REPEAT = 100_000;

function quantified(atom: string, min: number, max: number | undefined): string {
  if (max === 0) return '""';
  if (max === undefined) return min === 0 ? `${atom}*` : min === 1 ? `${atom}+` : `${atom}{${min},}`;
  if (min === 0 && max === 1) return `${atom}?`;
  return min === max ? `${atom}{${min}}` : `${atom}{${min},${max}}`;
}

/**
 * A rule matching `atom` (one GBNF item: a rule name, literal, class or parenthesised group)
 * repeated min..max times (max undefined: no upper bound), exactly, for any count up to
 * MAX_REPEAT. Above a chunk the rule is unambiguous: either fewer than a chunk, or one whole
 * chunk followed by the rest, so the parser keeps at most two stacks per chunk.
 */
export function repeat(rules: GbnfRules, atom: string, min: number, max: number | undefined, hint = "rep"): string {
  const chunk = () => rules.add(`${hint}-chunk`, `${atom}{${REPEAT_CHUNK}}`);
  const body = (lo: number, hi: number | undefined): string => {
    if (hi !== undefined ? hi <= REPEAT_CHUNK : lo <= REPEAT_CHUNK) return quantified(atom, lo, hi);
    const rest = (l: number) => rules.add(hint, body(l, hi === undefined ? undefined : hi - REPEAT_CHUNK));
    if (lo >= REPEAT_CHUNK) return `${chunk()} ${rest(lo - REPEAT_CHUNK)}`;
    return `${rules.add(hint, quantified(atom, lo, REPEAT_CHUNK - 1))} | ${chunk()} ${rest(0)}`;
  };
  return rules.add(hint, body(min, max));
}

/** A GBNF string literal matching `text` exactly. */
export function literal(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A character for use inside a GBNF `[...]` class. */
export function classChar(code: number): string {
  const ch = String.fromCodePoint(code);
  if (ch === "]" || ch === "[" || ch === "\\" || ch === "^" || ch === "-" || ch === '"') return `\\${ch}`;
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, "0")}`;
  if (code > 0xffff) return `\\U${code.toString(16).padStart(8, "0")}`;
  return ch;
}

const built = new Map<string, string>();
/** Text kept by memoGrammar (keys and grammars), least recently used dropped first. */
const BUILT_KEEP_CHARS = 2 * 2 ** 20;
let builtChars = 0;

/**
 * Grammar text by the JSON of what it was built from. The API checks a schema by converting it
 * and the engine converts it again to compile it, and agents send the same tools every turn:
 * the conversion runs once. Least recently used entries go first.
 */
export function memoGrammar(source: unknown, build: () => string): string {
  const key = JSON.stringify(source);
  let text = built.get(key);
  if (text !== undefined) built.delete(key);
  else {
    text = build();
    builtChars += key.length + text.length;
  }
  built.set(key, text);
  for (const [k, v] of built) {
    if (builtChars <= BUILT_KEEP_CHARS || k === key) break;
    built.delete(k);
    builtChars -= k.length + v.length;
  }
  return text;
}
