import type { ZodType, ZodTypeDef } from "zod";
import { invalidRequest } from "../errors.js";

/** `a.b[0].c` from a zod issue path, the way OpenAI names a nested `param`. */
function toParam(path: readonly (string | number)[]): string | null {
  if (path.length === 0) return null;
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/** Validates untrusted input: the typed value, or a 400 naming the first field at fault. */
export function parseWith<T>(schema: ZodType<T, ZodTypeDef, unknown>, input: unknown): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const param = toParam(issue?.path ?? []);
  const what = param ?? "body";
  if (issue?.code === "invalid_type" && issue.received === "undefined") {
    throw invalidRequest(`Missing required parameter '${what}'.`, param, "missing_required_parameter");
  }
  throw invalidRequest(`Invalid value for '${what}': ${issue?.message ?? "invalid"}.`, param, "invalid_value");
}
