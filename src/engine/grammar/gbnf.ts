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
const BUILT_KEEP = 64;

/**
 * Grammar text by the JSON of what it was built from. The API checks a schema by converting it
 * and the engine converts it again to compile it, and agents send the same tools every turn:
 * the conversion runs once. Least recently used entries go first.
 */
export function memoGrammar(source: unknown, build: () => string): string {
  const key = JSON.stringify(source);
  let text = built.get(key);
  if (text !== undefined) built.delete(key);
  else text = build();
  built.set(key, text);
  if (built.size > BUILT_KEEP) built.delete(built.keys().next().value as string);
  return text;
}
