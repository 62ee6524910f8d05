import type { Context } from "hono";
import { invalidJson, invalidRequest } from "../errors.js";

/** Reads a JSON object body; malformed JSON or a non-object is a 400, never a crash. */
export async function readJsonBody(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw invalidJson(e instanceof Error ? e.message : String(e));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidRequest("The request body must be a JSON object.");
  }
  return value as Record<string, unknown>;
}
