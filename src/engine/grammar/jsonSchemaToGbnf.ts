import { UnsupportedSchema } from "./errors.js";
import { GbnfRules, MAX_REPEAT, literal, memoGrammar, repeat } from "./gbnf.js";
import { numberRangeGbnf } from "./numberRange.js";
import { UnsupportedPattern, jsonCharRule, patternToGbnf, regexToGbnf } from "./regexToGbnf.js";

export { UnsupportedSchema } from "./errors.js";

/**
 * JSON Schema → llama.cpp GBNF, so sampling can only produce JSON that validates.
 *
 * The output is a subset of what the schema allows, chosen so that every output validates:
 * properties come in schema order (required and optional ones, optional ones may be left
 * out), numbers never use exponents, `date` days stop at 28, whitespace is bounded so a
 * weak model cannot idle in it. Keywords that constrain values but cannot be expressed
 * (`not`, `uniqueItems`, `multipleOf`, …) raise UnsupportedSchema rather than being dropped.
 *
 * Objects with `properties` admit no others unless `additionalProperties` says so (true or a
 * schema), as llama.cpp's converter and xgrammar do: following the letter of JSON Schema
 * (absent = anything) let weak models ramble into invented keys until max_tokens.
 *
 * Limits (each a 400 naming the place, never a grammar llama.cpp cannot run): nesting depth
 * MAX_DEPTH, MAX_ENUM values per enum, counts (lengths, items) up to MAX_REPEAT, a $ref that
 * reaches itself before any JSON is written (left recursion), grammars up to MAX_GRAMMAR_BYTES.
 */

/** Deepest schema nesting followed (a deeper one overflowed the stack: a RangeError, a 500). */
export const MAX_DEPTH = 64;
/** Most values in one enum: each is an alternative the grammar tracks while sampling (100,000 took 127 s of CPU). */
export const MAX_ENUM = 1024;
/** Largest grammar text compiled (llama.cpp parses it on the JS thread). */
export const MAX_GRAMMAR_BYTES = 256 * 1024;

type Schema = Record<string, unknown>;

/** Keywords with no effect on validation. */
const ANNOTATIONS = new Set([
  "$schema",
  "$id",
  "$anchor",
  "$comment",
  "$defs",
  "definitions",
  "title",
  "description",
  "default",
  "examples",
  "deprecated",
  "readOnly",
  "writeOnly",
  "contentMediaType",
  "contentEncoding",
  "strict",
  "name",
]);

/** Keywords that constrain values in ways a grammar cannot follow. */
const UNSUPPORTED = [
  "not",
  "if",
  "then",
  "else",
  "patternProperties",
  "propertyNames",
  "dependentRequired",
  "dependentSchemas",
  "dependencies",
  "unevaluatedProperties",
  "unevaluatedItems",
  "contains",
  "minContains",
  "maxContains",
  "$dynamicRef",
  "$recursiveRef",
];

const FORMATS: Record<string, string> = {
  date: `[0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | "1" [0-9] | "2" [0-8])`,
  time: `([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,3})? "Z"`,
  // Written as regexes: each counted repetition then gets a rule of its own (see repeat()).
  uuid: "/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
  email: "/[a-z0-9][a-z0-9._]{0,30}[a-z0-9]@[a-z0-9]{1,20}(\\.[a-z]{2,6}){1,2}",
  ipv4: `ipv4-octet "." ipv4-octet "." ipv4-octet "." ipv4-octet`,
};
FORMATS["date-time"] = `${FORMATS.date} "T" ${FORMATS.time}`;

const WS = `| " " | "\\n" [ \\t]{0,20}`;

/** A count keyword (minLength, maxItems, …): absent, or a whole number from 0 to MAX_REPEAT. */
function count(s: Schema, key: string, ptr: string): number | undefined {
  const v = s[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
    throw new UnsupportedSchema(`${ptr}/${key}`, `'${key}' that is not a whole number ≥ 0`);
  if (v > MAX_REPEAT) throw new UnsupportedSchema(`${ptr}/${key}`, `'${key}' above ${MAX_REPEAT}`);
  return v;
}

class Converter {
  private readonly refs = new Map<string, string>();
  private depth = 0;
  /** $refs being expanded with no JSON written since they were entered: meeting one again is left recursion. */
  private unconsumed = new Set<string>();

  constructor(
    private readonly root: Schema,
    readonly rules = new GbnfRules(),
  ) {}

  private ws(): string {
    return this.rules.add("ws", WS);
  }

  /** Any JSON value (used where the schema says nothing). */
  anyValue(): string {
    if (this.rules.has("value")) return "value";
    this.rules.define("value", "");
    const ws = this.ws();
    const str = this.stringRule();
    const kv = `${str} ":" ${ws} value`;
    this.rules.define("value", `object | array | ${str} | number | boolean | null`);
    this.rules.define("object", `"{" ${ws} (${kv} ("," ${ws} ${kv})* ${ws})? "}"`);
    this.rules.define("array", `"[" ${ws} (value ("," ${ws} value)* ${ws})? "]"`);
    this.number(false);
    this.rules.define("boolean", `"true" | "false"`);
    this.rules.define("null", `"null"`);
    return "value";
  }

  private stringRule(min = 0, max?: number): string {
    const ch = jsonCharRule(this.rules);
    if (min === 0 && max === undefined) return this.rules.add("string", `"\\"" ${ch}* "\\""`);
    return this.rules.add("string-len", `"\\"" ${repeat(this.rules, ch, min, max, "chars")} "\\""`);
  }

  private number(integer: boolean): string {
    const int = `"-"? ("0" | [1-9] [0-9]{0,15})`;
    return integer ? this.rules.add("integer", int) : this.rules.add("number", `${int} ("." [0-9]{1,16})?`);
  }

  visit(schema: unknown, ptr: string, hint: string): string {
    if (this.depth >= MAX_DEPTH) throw new UnsupportedSchema(ptr, `nesting deeper than ${MAX_DEPTH} levels`);
    this.depth++;
    try {
      return this.visitNode(schema, ptr, hint);
    } finally {
      this.depth--;
    }
  }

  /** Visits a node that writes JSON text first (an object's "{", an array's "["): recursion through it is fine. */
  private consuming<T>(fn: () => T): T {
    const saved = this.unconsumed;
    this.unconsumed = new Set();
    try {
      return fn();
    } finally {
      this.unconsumed = saved;
    }
  }

  private visitNode(schema: unknown, ptr: string, hint: string): string {
    if (
      schema === true ||
      (typeof schema === "object" && schema !== null && Object.keys(schema).every((k) => ANNOTATIONS.has(k)))
    ) {
      return this.anyValue();
    }
    if (schema === false) throw new UnsupportedSchema(ptr, "a schema of 'false' (nothing validates)");
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
      throw new UnsupportedSchema(ptr, "a schema that is not an object");
    }
    const s = schema as Schema;
    for (const k of UNSUPPORTED) if (k in s) throw new UnsupportedSchema(`${ptr}/${k}`, `'${k}'`);
    if (typeof s.$ref === "string") return this.ref(s.$ref, ptr);
    if ("const" in s) return this.rules.add(`${hint}-const`, literal(JSON.stringify(s.const)));
    if (Array.isArray(s.enum)) {
      if (s.enum.length === 0) throw new UnsupportedSchema(`${ptr}/enum`, "an empty 'enum'");
      if (s.enum.length > MAX_ENUM)
        throw new UnsupportedSchema(`${ptr}/enum`, `an 'enum' of more than ${MAX_ENUM} values`);
      return this.rules.add(`${hint}-enum`, s.enum.map((v) => literal(JSON.stringify(v))).join(" | "));
    }
    for (const key of ["anyOf", "oneOf"] as const) {
      const alts = s[key];
      if (!Array.isArray(alts)) continue;
      const { [key]: _drop, ...rest } = s;
      const base = Object.keys(rest).filter((k) => !ANNOTATIONS.has(k));
      // Sibling keywords apply to every branch: fold them into each one.
      const branches = alts.map((alt, i) =>
        this.visit(base.length === 0 ? alt : { ...rest, ...(alt as Schema) }, `${ptr}/${key}/${i}`, `${hint}-${i}`),
      );
      return this.rules.add(hint, branches.join(" | "));
    }
    if (Array.isArray(s.allOf)) return this.visit(this.mergeAllOf(s, ptr), ptr, hint);
    const types = this.types(s);
    const nullable = s.nullable === true && !types.includes("null");
    const alts = types.map((t) => this.typed(t, s, ptr, types.length > 1 ? `${hint}-${t}` : hint));
    if (nullable) alts.push(`"null"`);
    return alts.length === 1 ? (alts[0] as string) : this.rules.add(hint, alts.join(" | "));
  }

  private types(s: Schema): string[] {
    if (typeof s.type === "string") return [s.type];
    if (Array.isArray(s.type)) return s.type.map(String);
    if ("properties" in s || "additionalProperties" in s || "required" in s) return ["object"];
    if ("items" in s || "prefixItems" in s || "minItems" in s || "maxItems" in s) return ["array"];
    if ("pattern" in s || "format" in s || "minLength" in s || "maxLength" in s) return ["string"];
    if ("minimum" in s || "maximum" in s || "exclusiveMinimum" in s || "exclusiveMaximum" in s) return ["number"];
    return ["object", "array", "string", "number", "boolean", "null"];
  }

  private typed(type: string, s: Schema, ptr: string, hint: string): string {
    switch (type) {
      case "object":
        return this.consuming(() => this.object(s, ptr, hint));
      case "array":
        return this.consuming(() => this.array(s, ptr, hint));
      case "string":
        return this.string(s, ptr, hint);
      case "number":
      case "integer":
        return this.numeric(s, ptr, hint, type === "integer");
      case "boolean":
        return this.rules.add("boolean", `"true" | "false"`);
      case "null":
        return this.rules.add("null", `"null"`);
      default:
        throw new UnsupportedSchema(`${ptr}/type`, `the type '${type}'`);
    }
  }

  private object(s: Schema, ptr: string, hint: string): string {
    const ws = this.ws();
    const props = (s.properties ?? {}) as Record<string, unknown>;
    const required = new Set(Array.isArray(s.required) ? s.required.map(String) : []);
    const keys = Object.keys(props);
    for (const r of required) {
      if (!keys.includes(r))
        throw new UnsupportedSchema(`${ptr}/required`, `the required property '${r}' without a schema in 'properties'`);
    }
    // Absent additionalProperties admits no keys beyond `properties` (see the file comment); an
    // object schema with neither, `{"type": "object"}`, is any object, as in llama.cpp.
    const additional = s.additionalProperties ?? !("properties" in s);
    let extraKv: string | null = null;
    if (additional !== false) {
      const value =
        additional === true
          ? this.anyValue()
          : this.visit(additional, `${ptr}/additionalProperties`, `${hint}-additional`);
      extraKv = this.rules.add(`${hint}-additional-kv`, `${this.stringRule()} ":" ${ws} ${value}`);
    }
    const minP = count(s, "minProperties", ptr) ?? 0;
    const maxP = count(s, "maxProperties", ptr);
    if (minP > required.size)
      throw new UnsupportedSchema(`${ptr}/minProperties`, "'minProperties' above the number of required properties");
    if (maxP !== undefined && (extraKv !== null || maxP < keys.length)) {
      throw new UnsupportedSchema(
        `${ptr}/maxProperties`,
        "'maxProperties' below the number of properties that may appear",
      );
    }
    const kvs = keys.map((k) => {
      const value = this.visit(props[k], `${ptr}/properties/${escapePointer(k)}`, `${hint}-${k}`);
      return this.rules.add(`${hint}-${k}-kv`, `${literal(JSON.stringify(k))} ":" ${ws} ${value}`);
    });
    // tail(i): what may follow once something was written, items i.. left; head(i): nothing written yet.
    let tail = extraKv === null ? '""' : `("," ${ws} ${extraKv})*`;
    let head = extraKv === null ? '""' : `(${extraKv} ${tail})?`;
    for (let i = keys.length - 1; i >= 0; i--) {
      const kv = kvs[i] as string;
      const isRequired = required.has(keys[i] as string);
      const tailRule = this.rules.add(`${hint}-tail`, tail);
      const nextHead = this.rules.add(`${hint}-head`, head);
      head = isRequired ? `${kv} ${tailRule}` : `${kv} ${tailRule} | ${nextHead}`;
      tail = isRequired ? `"," ${ws} ${kv} ${tailRule}` : `("," ${ws} ${kv})? ${tailRule}`;
    }
    const body = this.rules.add(`${hint}-members`, head);
    return this.rules.add(hint, `"{" ${ws} ${body} ${ws} "}"`);
  }

  private array(s: Schema, ptr: string, hint: string): string {
    if (s.uniqueItems === true) throw new UnsupportedSchema(`${ptr}/uniqueItems`, "'uniqueItems'");
    const ws = this.ws();
    const min = count(s, "minItems", ptr) ?? 0;
    const max = count(s, "maxItems", ptr);
    if (max !== undefined && max < min) throw new UnsupportedSchema(`${ptr}/maxItems`, "'maxItems' below 'minItems'");
    const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : [];
    const fixed = prefix.map((p, i) => this.visit(p, `${ptr}/prefixItems/${i}`, `${hint}-${i}`));
    if (max !== undefined && fixed.length > max)
      throw new UnsupportedSchema(`${ptr}/prefixItems`, "more 'prefixItems' than 'maxItems'");
    const rest = s.items === false ? null : this.visit(s.items ?? true, `${ptr}/items`, `${hint}-item`);
    if (rest === null && min > fixed.length)
      throw new UnsupportedSchema(`${ptr}/minItems`, "'minItems' above the number of 'prefixItems'");
    const parts: string[] = [...fixed];
    let body = parts.join(` "," ${ws} `);
    if (rest !== null) {
      const needed = Math.max(0, min - fixed.length);
      const allowed = max === undefined ? undefined : max - fixed.length;
      if (fixed.length === 0) {
        if (allowed === 0) body = "";
        else {
          const more = repeat(
            this.rules,
            `("," ${ws} ${rest})`,
            Math.max(0, needed - 1),
            allowed === undefined ? undefined : allowed - 1,
            `${hint}-more`,
          );
          body = needed === 0 ? `(${rest} ${more})?` : `${rest} ${more}`;
        }
      } else if (allowed !== 0) {
        body += ` ${repeat(this.rules, `("," ${ws} ${rest})`, needed, allowed, `${hint}-more`)}`;
      }
    }
    return this.rules.add(hint, body === "" ? `"[" ${ws} "]"` : `"[" ${ws} ${body} ${ws} "]"`);
  }

  private string(s: Schema, ptr: string, hint: string): string {
    const hasLength = "minLength" in s || "maxLength" in s;
    if (typeof s.format === "string") {
      const f = FORMATS[s.format];
      if (f === undefined) throw new UnsupportedSchema(`${ptr}/format`, `the string format '${s.format}'`);
      if (hasLength || "pattern" in s) throw new UnsupportedSchema(ptr, "'format' together with 'pattern' or a length");
      if (s.format === "ipv4")
        this.rules.define("ipv4-octet", regexToGbnf("25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]", this.rules));
      const body = f.startsWith("/") ? regexToGbnf(f.slice(1), this.rules) : f;
      return this.rules.add(`${hint}-${s.format}`, `"\\"" ${body} "\\""`);
    }
    if (typeof s.pattern === "string") {
      if (hasLength) throw new UnsupportedSchema(ptr, "'pattern' together with 'minLength'/'maxLength'");
      try {
        return this.rules.add(hint, `"\\"" ${patternToGbnf(s.pattern, this.rules)} "\\""`);
      } catch (e) {
        if (e instanceof UnsupportedPattern)
          throw new UnsupportedSchema(`${ptr}/pattern`, `a pattern with ${e.message}`);
        throw e;
      }
    }
    const min = count(s, "minLength", ptr) ?? 0;
    const max = count(s, "maxLength", ptr);
    if (max !== undefined && max < min)
      throw new UnsupportedSchema(`${ptr}/maxLength`, "'maxLength' below 'minLength'");
    return this.stringRule(min, max);
  }

  private numeric(s: Schema, ptr: string, hint: string, integer: boolean): string {
    if ("multipleOf" in s && !(integer && s.multipleOf === 1))
      throw new UnsupportedSchema(`${ptr}/multipleOf`, "'multipleOf'");
    const num = (v: unknown) => (typeof v === "number" ? v : undefined);
    // Draft 4 writes exclusive bounds as booleans beside minimum/maximum; later drafts as numbers.
    let min = num(s.minimum);
    let max = num(s.maximum);
    let exclusiveMin = s.exclusiveMinimum === true;
    let exclusiveMax = s.exclusiveMaximum === true;
    const exMin = num(s.exclusiveMinimum);
    const exMax = num(s.exclusiveMaximum);
    if (exMin !== undefined && (min === undefined || exMin >= min)) [min, exclusiveMin] = [exMin, true];
    if (exMax !== undefined && (max === undefined || exMax <= max)) [max, exclusiveMax] = [exMax, true];
    if (min === undefined && max === undefined) return this.number(integer);
    const body = numberRangeGbnf(
      { min, max, exclusiveMin, exclusiveMax },
      integer,
      (src) => regexToGbnf(src, this.rules),
      ptr,
    );
    return this.rules.add(`${hint}-range`, body);
  }

  private mergeAllOf(s: Schema, ptr: string): Schema {
    const { allOf, ...rest } = s;
    const resolved = (allOf as unknown[]).map((p, i) => this.resolve(p, `${ptr}/allOf/${i}`));
    const merged: Schema = { type: "object", properties: {}, required: [] };
    for (const [i, raw] of [rest, ...resolved].entries()) {
      if (raw === true) continue; // constrains nothing
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw new UnsupportedSchema(`${ptr}/allOf/${i - 1}`, "an 'allOf' entry that is not a schema object");
      }
      const p = raw as Schema;
      const keys = Object.keys(p).filter((k) => !ANNOTATIONS.has(k));
      const objectOnly = keys.every((k) => ["type", "properties", "required", "additionalProperties"].includes(k));
      if (!objectOnly || (p.type !== undefined && p.type !== "object")) {
        throw new UnsupportedSchema(
          `${ptr}/allOf${i === 0 ? "" : `/${i - 1}`}`,
          "'allOf' other than merging object schemas",
        );
      }
      Object.assign(merged.properties as Schema, p.properties ?? {});
      (merged.required as unknown[]).push(...((p.required as unknown[]) ?? []));
      if ("additionalProperties" in p) merged.additionalProperties = p.additionalProperties;
    }
    return merged;
  }

  private resolve(schema: unknown, ptr: string): unknown {
    const ref = typeof schema === "object" && schema !== null ? (schema as Schema).$ref : undefined;
    return typeof ref === "string" ? this.lookup(ref, ptr) : schema;
  }

  private lookup(ref: string, ptr: string): Schema {
    if (!ref.startsWith("#")) throw new UnsupportedSchema(`${ptr}/$ref`, `the external reference '${ref}'`);
    let node: unknown = this.root;
    for (const raw of ref
      .slice(1)
      .split("/")
      .filter((p) => p !== "")) {
      const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
      node = typeof node === "object" && node !== null ? (node as Schema)[key] : undefined;
    }
    if (node === undefined) throw new UnsupportedSchema(`${ptr}/$ref`, `the reference '${ref}', which points nowhere`);
    return node as Schema;
  }

  private ref(ref: string, ptr: string): string {
    // llama.cpp refuses left-recursive grammars ({"$ref": "#"}, or a ref reaching itself
    // through anyOf/allOf before an object or array opens).
    if (this.unconsumed.has(ref))
      throw new UnsupportedSchema(
        `${ptr}/$ref`,
        `the reference '${ref}', which reaches itself before any JSON is written`,
      );
    const known = this.refs.get(ref);
    if (known !== undefined) return known;
    const target = this.lookup(ref, ptr);
    const name = this.rules.reserve(`ref-${ref.split("/").pop() || "root"}`);
    this.refs.set(ref, name);
    this.unconsumed.add(ref);
    try {
      this.rules.define(name, this.visit(target, ref, name));
    } finally {
      this.unconsumed.delete(ref);
    }
    return name;
  }
}

function escapePointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** A complete grammar whose root is a value valid against `schema`. */
export function jsonSchemaToGbnf(schema: unknown): string {
  return memoGrammar({ schema }, () => {
    const c = new Converter((typeof schema === "object" && schema !== null ? schema : {}) as Schema);
    c.rules.define("root", c.visit(schema, "#", "root-value"));
    return checkedSize(c.rules.toString(), "#");
  });
}

/** The grammar text, unless it is larger than MAX_GRAMMAR_BYTES. */
export function checkedSize(gbnf: string, ptr: string): string {
  if (Buffer.byteLength(gbnf) > MAX_GRAMMAR_BYTES)
    throw new UnsupportedSchema(ptr, `a schema whose grammar is larger than ${MAX_GRAMMAR_BYTES / 1024} KiB`);
  return gbnf;
}

/** Any JSON object: response_format {"type":"json_object"}. */
export function jsonObjectGbnf(): string {
  const c = new Converter({});
  c.anyValue();
  c.rules.define("root", "object");
  return c.rules.toString();
}

/** Schema → grammar rules, for grammars that embed several schemas (tool calls). */
export function schemaRules(): { rules: GbnfRules; add(schema: unknown, ptr: string, hint: string): string } {
  const converters = new Map<unknown, Converter>();
  const shared = new GbnfRules();
  return {
    rules: shared,
    add(schema, ptr, hint) {
      // One converter per root document, so $refs resolve against their own schema.
      let c = converters.get(schema);
      if (!c) {
        c = new Converter((typeof schema === "object" && schema !== null ? schema : {}) as Schema, shared);
        converters.set(schema, c);
      }
      return c.visit(schema, ptr, hint);
    },
  };
}
