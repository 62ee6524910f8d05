import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ApiError, toApiError } from "../../src/api/errors.js";
import { ENGINE_ERROR_CODES, EngineError } from "../../src/engine/errors.js";

/** docs/errors.md's rows: code → status and type. */
function catalogue(): Map<string, { status: number; type: string }> {
  const rows = new Map<string, { status: number; type: string }>();
  for (const line of readFileSync("docs/errors.md", "utf8").split("\n")) {
    const m = /^\| `([a-z_]+)` \| (\d{3}) \| ([a-z_ ]+?) \|/.exec(line);
    if (m?.[1] && m[2] && m[3]) rows.set(m[1], { status: Number(m[2]), type: m[3] });
  }
  return rows;
}

describe("the error catalogue", () => {
  it("maps every engine error to one documented entry", () => {
    const docs = catalogue();
    for (const code of ENGINE_ERROR_CODES) {
      const e = toApiError(new EngineError(code, "x"));
      assert.equal(e.code, code);
      assert.deepEqual(docs.get(code), { status: e.status, type: e.type }, `${code} in docs/errors.md`);
    }
  });

  it("documents every code src/api/errors.ts builds", () => {
    const docs = catalogue();
    const source = readFileSync("src/api/errors.ts", "utf8");
    const built = [...source.matchAll(/new ApiError\(\s*(\d{3}),\s*"([a-z_]+)",\s*"([a-z_]+)"/g)];
    assert.ok(built.length >= 10);
    for (const [, status, type, code] of built)
      assert.deepEqual(docs.get(code as string), { status: Number(status), type }, `${code}`);
  });

  it("never shows a bug's details", () => {
    const e = toApiError(new TypeError("secret internals"));
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 500);
    assert.doesNotMatch(e.message, /secret/);
  });
});
