import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UnsupportedSchema, jsonSchemaToGbnf } from "../../src/engine/grammar/jsonSchemaToGbnf.js";
import { gbnfToRegExp } from "../helpers/gbnfRegExp.js";

const accepts = (schema: unknown) => {
  const re = gbnfToRegExp(jsonSchemaToGbnf(schema));
  return (json: string) => re.test(json);
};

describe("JSON Schema → GBNF: numbers", () => {
  it("integer ranges accept exactly the integers inside", () => {
    const ranges = [
      { minimum: 0, maximum: 120 },
      { minimum: -15, maximum: 7 },
      { minimum: 13 },
      { maximum: -4 },
      { exclusiveMinimum: 9, exclusiveMaximum: 1000 },
      { minimum: 2.5, maximum: 9.5 },
    ];
    for (const r of ranges) {
      const ok = accepts({ type: "integer", ...r });
      const lo = r.minimum ?? (r.exclusiveMinimum !== undefined ? r.exclusiveMinimum + 1e-9 : -Infinity);
      const hi = r.maximum ?? (r.exclusiveMaximum !== undefined ? r.exclusiveMaximum - 1e-9 : Infinity);
      for (let v = -1200; v <= 1200; v++)
        assert.equal(ok(String(v)), v >= lo && v <= hi, `${v} in ${JSON.stringify(r)}`);
      assert.equal(ok("007"), false, "no leading zeros");
      assert.equal(ok("5.0"), false, "no fraction on integers");
    }
  });

  it("number ranges with integer bounds accept decimals inside and nothing outside", () => {
    const cases = [
      { minimum: 0, maximum: 10 },
      { exclusiveMinimum: 0, maximum: 1 },
      { minimum: -5, exclusiveMaximum: 5 },
      { maximum: -2 },
    ];
    for (const r of cases) {
      const ok = accepts({ type: "number", ...r });
      for (let i = -1300; i <= 1300; i++) {
        for (const text of [String(i / 100), (i / 100).toFixed(2), (i / 10).toFixed(1)]) {
          const v = Number(text);
          const inside =
            (r.minimum === undefined || v >= r.minimum) &&
            (r.exclusiveMinimum === undefined || v > r.exclusiveMinimum) &&
            (r.maximum === undefined || v <= r.maximum) &&
            (r.exclusiveMaximum === undefined || v < r.exclusiveMaximum);
          if (inside) assert.ok(ok(text) || text.startsWith("-0"), `${text} should be in ${JSON.stringify(r)}`);
          else assert.equal(ok(text), false, `${text} should be outside ${JSON.stringify(r)}`);
        }
      }
    }
  });

  it("non-integer bounds on a number are refused, not dropped", () => {
    assert.throws(() => jsonSchemaToGbnf({ type: "number", maximum: 0.5 }), UnsupportedSchema);
  });
});

describe("JSON Schema → GBNF: strings", () => {
  it("patterns are matched against the decoded string, anchored or not", () => {
    const anchored = accepts({ type: "string", pattern: "^[A-Z]{2}-\\d{3}$" });
    assert.ok(anchored('"AB-123"'));
    assert.equal(anchored('"AB-12"'), false);
    assert.equal(anchored('"xAB-123"'), false);
    const loose = accepts({ type: "string", pattern: "cat|dog" });
    assert.ok(loose('"hot dog stand"'));
    assert.equal(loose('"bird"'), false);
    const quotes = accepts({ type: "string", pattern: '^say "hi"\\\\$' });
    assert.ok(quotes('"say \\"hi\\"\\\\"'), "quote and backslash are JSON-escaped");
  });

  it("lengths, enums, consts and formats", () => {
    const len = accepts({ type: "string", minLength: 2, maxLength: 3 });
    assert.deepEqual(['"a"', '"ab"', '"abc"', '"abcd"', '"a\\nb"'].map(len), [false, true, true, false, true]);
    const e = accepts({ enum: ["red", 2, null, { a: [1] }] });
    assert.deepEqual(['"red"', "2", "null", '{"a":[1]}', '"blue"'].map(e), [true, true, true, true, false]);
    assert.ok(accepts({ const: "x" })('"x"'));
    const date = accepts({ type: "string", format: "date" });
    assert.ok(date('"2024-02-28"'));
    assert.equal(date('"2024-13-01"'), false);
    const uuid = accepts({ type: "string", format: "uuid" });
    assert.ok(uuid('"123e4567-e89b-12d3-a456-426614174000"'));
  });
});

describe("JSON Schema → GBNF: objects and arrays", () => {
  it("required properties must appear, optional ones may, in schema order", () => {
    const ok = accepts({
      type: "object",
      properties: { a: { type: "integer" }, b: { type: "boolean" }, c: { type: "null" } },
      required: ["b"],
      additionalProperties: false,
    });
    assert.ok(ok('{"b":true}'));
    assert.ok(ok('{"a":1,"b":false,"c":null}'));
    assert.ok(ok('{ "a": 1, "b": true }'));
    assert.ok(ok('{"b":true,"c":null}'));
    assert.equal(ok('{"a":1}'), false, "b is required");
    assert.equal(ok('{"b":true,"d":1}'), false, "no additional properties");
    assert.equal(ok('{"a":1,,"b":true}'), false);
  });

  it("additionalProperties allows extra keys with their schema", () => {
    const ok = accepts({
      type: "object",
      properties: { a: { type: "integer" } },
      additionalProperties: { type: "string" },
    });
    assert.ok(ok('{"a":1,"x":"y"}'));
    assert.ok(ok('{"x":"y"}'));
    assert.equal(ok('{"a":1,"x":2}'), false);
  });

  it("array item counts, tuples, anyOf and nullable types", () => {
    const arr = accepts({ type: "array", items: { type: "integer" }, minItems: 1, maxItems: 3 });
    assert.deepEqual(["[]", "[1]", "[1,2,3]", "[1,2,3,4]"].map(arr), [false, true, true, false]);
    const tuple = accepts({ type: "array", prefixItems: [{ type: "string" }, { type: "integer" }], items: false });
    assert.deepEqual(['["a",1]', '["a"]', '["a",1,2]'].map(tuple), [true, false, false]);
    const any = accepts({ anyOf: [{ type: "integer" }, { type: "string", maxLength: 1 }] });
    assert.deepEqual(["3", '"x"', '"xy"', "true"].map(any), [true, true, false, false]);
    const nullable = accepts({ type: ["string", "null"], maxLength: 2 });
    assert.deepEqual(['"ab"', "null", "1"].map(nullable), [true, true, false]);
  });

  it("$ref and $defs, including recursion", () => {
    const schema = {
      $defs: {
        node: {
          type: "object",
          properties: { v: { type: "integer" }, next: { anyOf: [{ $ref: "#/$defs/node" }, { type: "null" }] } },
          required: ["v", "next"],
          additionalProperties: false,
        },
      },
      $ref: "#/$defs/node",
    };
    const gbnf = jsonSchemaToGbnf(schema);
    assert.match(gbnf, /^ref-node ::= /m);
    assert.throws(() => gbnfToRegExp(gbnf), /recursive/, "the grammar refers back to itself");
  });
});

describe("JSON Schema → GBNF: what cannot be enforced is refused with its location", () => {
  const cases: [string, unknown, string][] = [
    ["not", { properties: { a: { not: { type: "string" } } } }, "#/properties/a/not"],
    ["uniqueItems", { type: "array", uniqueItems: true }, "#/uniqueItems"],
    ["multipleOf", { type: "integer", multipleOf: 5 }, "#/multipleOf"],
    ["if/then", { if: { type: "string" }, then: { maxLength: 2 } }, "#/if"],
    ["patternProperties", { type: "object", patternProperties: { "^x": {} } }, "#/patternProperties"],
    ["unknown format", { type: "string", format: "hostname" }, "#/format"],
    ["lookbehind", { type: "string", pattern: "(?<=a)b" }, "#/pattern"],
    ["backreference", { type: "string", pattern: "(a)\\1" }, "#/pattern"],
    ["pattern with a length", { type: "string", pattern: "^a+$", maxLength: 3 }, "#"],
    ["external $ref", { $ref: "https://example.com/s.json" }, "#/$ref"],
    [
      "minProperties beyond the required",
      { type: "object", properties: { a: {} }, minProperties: 1 },
      "#/minProperties",
    ],
    ["an empty enum", { enum: [] }, "#/enum"],
    ["allOf mixing types", { allOf: [{ type: "string" }, { maxLength: 3 }] }, "#/allOf/0"],
    // Found by the hostile-client campaign: each was a 500 or a grammar llama.cpp could not run.
    ["an allOf entry that is not a schema", { allOf: [{ type: "object" }, 7] }, "#/allOf/1"],
    ["allOf of null", { allOf: [null] }, "#/allOf/0"],
    ["a fractional minLength", { type: "string", minLength: 2.5 }, "#/minLength"],
    ["a negative maxItems", { type: "array", maxItems: -1 }, "#/maxItems"],
    ["a count above 100,000", { type: "string", maxLength: 100_001 }, "#/maxLength"],
    ["a ref to itself", { $ref: "#" }, "#/$ref"],
    [
      "a ref reaching itself through anyOf",
      { $defs: { a: { anyOf: [{ $ref: "#/$defs/a" }, { type: "null" }] } }, $ref: "#/$defs/a" },
      "#/$defs/a/anyOf/0/$ref",
    ],
    ["a repeated part that can match nothing", { type: "string", pattern: "^(a*)+$" }, "#/pattern"],
    ["an enum of 1,025 values", { enum: Array.from({ length: 1025 }, (_, i) => i) }, "#/enum"],
  ];
  for (const [name, schema, pointer] of cases) {
    it(name, () => {
      assert.throws(
        () => jsonSchemaToGbnf(schema),
        (e: unknown) => e instanceof UnsupportedSchema && e.pointer === pointer && e.message.includes(pointer),
      );
    });
  }

  it("nesting deeper than 64 levels", () => {
    let deep: unknown = { type: "string" };
    for (let i = 0; i < 3000; i++) deep = { type: "array", items: deep };
    assert.throws(
      () => jsonSchemaToGbnf(deep),
      (e: unknown) => e instanceof UnsupportedSchema && /deeper than 64/.test(e.message),
    );
  });

  it("objects with properties admit no other keys unless additionalProperties says so", () => {
    const closed = accepts({ type: "object", properties: { a: { type: "integer" } } });
    assert.ok(closed('{"a":1}'));
    assert.equal(closed('{"a":1,"b":2}'), false);
    assert.ok(
      accepts({ type: "object", properties: { a: { type: "integer" } }, additionalProperties: { type: "integer" } })(
        '{"a":1,"b":2}',
      ),
    );
    // Any JSON value is a recursive rule (the regex helper cannot expand it): read the grammar.
    assert.match(
      jsonSchemaToGbnf({ type: "object", properties: { a: {} }, additionalProperties: true }),
      /additional-kv ::= .* value$/m,
    );
    assert.match(
      jsonSchemaToGbnf({ type: "object" }),
      /additional-kv ::= .* value$/m,
      "an object schema without properties is any object",
    );
  });

  it("counts above llama.cpp's 2000 are exact, chunked into rules of their own", () => {
    const gbnf = jsonSchemaToGbnf({ type: "string", minLength: 2500, maxLength: 4100 });
    for (const m of gbnf.matchAll(/\{(\d+)(?:,(\d*))?\}/g)) assert.ok(Number(m[2] || m[1]) <= 1000, m[0]);
    const ok = accepts({ type: "string", minLength: 2500, maxLength: 4100 });
    assert.ok(ok(`"${"a".repeat(2500)}"`));
    assert.ok(ok(`"${"a".repeat(4100)}"`));
    assert.equal(ok(`"${"a".repeat(2499)}"`), false);
    assert.equal(ok(`"${"a".repeat(4101)}"`), false);
  });

  it("annotations are ignored and allOf of objects is merged", () => {
    const ok = accepts({
      title: "T",
      description: "d",
      $schema: "https://json-schema.org/draft/2020-12/schema",
      allOf: [
        { type: "object", properties: { a: { type: "integer" } }, required: ["a"] },
        { properties: { b: { type: "boolean" } }, required: ["b"], additionalProperties: false },
      ],
    });
    assert.ok(ok('{"a":1,"b":true}'));
    assert.equal(ok('{"a":1}'), false);
  });
});
