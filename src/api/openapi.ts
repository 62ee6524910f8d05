import { zodToJsonSchema } from "zod-to-json-schema";
import { LUNARIS } from "../catalog.js";
import { createKeySchema, updateKeySchema } from "./protocol/accountingWire.js";
import { chatCompletionRequestSchema } from "./protocol/chatCompletionRequest.js";
import { completionRequestSchema } from "./protocol/completionRequest.js";
import { llamaCompletionRequestSchema } from "./protocol/llamaCompletionRequest.js";
import type { Route } from "./routeTable.js";
import { detokenizeSchema, tokenizeSchema } from "./routes/llamacppHelpers.js";

/**
 * Draft 2019-09 (what zod-to-json-schema writes) → JSON Schema 2020-12, which OpenAPI 3.1 uses:
 * tuples move from `items: [...]` to `prefixItems`, their rest from `additionalItems` to `items`,
 * and boolean exclusive bounds become numbers.
 */
function to2020(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(to2020);
  if (typeof node !== "object" || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) if (k !== "$schema") out[k] = to2020(v);
  // Draft 4 style exclusive bounds (a boolean beside minimum/maximum) become numbers.
  for (const [ex, bound] of [
    ["exclusiveMinimum", "minimum"],
    ["exclusiveMaximum", "maximum"],
  ] as const) {
    if (out[ex] === true) {
      out[ex] = out[bound];
      delete out[bound];
    } else if (out[ex] === false) delete out[ex];
  }
  if (Array.isArray(out.items)) {
    out.prefixItems = out.items;
    delete out.items;
    if ("additionalItems" in out) {
      out.items = out.additionalItems;
      delete out.additionalItems;
    }
  }
  return out;
}

/** A request schema as JSON Schema 2020-12. */
export function jsonSchemaOf(s: Parameters<typeof zodToJsonSchema>[0]): Record<string, unknown> {
  return to2020(zodToJsonSchema(s, { target: "jsonSchema2019-09", $refStrategy: "none" })) as Record<string, unknown>;
}

const ERROR_STATUSES: Record<string, string> = {
  "400": "Invalid request",
  "401": "Missing or invalid API key",
  "403": "Not an admin key",
  "404": "Unknown model, key or route",
  "413": "Request body over 16 MiB",
  "429": "Rate limit, budget or queue full",
  "500": "Server error",
  "503": "Loading, queue timeout, or no upstream available",
  "504": "The request outlived the server's limit",
};

/** hono's `:id{.+}` and `:id` → OpenAPI's `{id}`. */
const openApiPath = (path: string) => path.replace(/:(\w+)(\{[^}]*\})?/g, "{$1}");

function operation(r: Route): Record<string, unknown> {
  const ref = { $ref: "#/components/schemas/Error" };
  const errors = Object.fromEntries(
    Object.entries(ERROR_STATUSES)
      // Public routes read no body and need no key; the rest can fail every way.
      .filter(([status]) => r.access !== "public" || status === "503")
      .map(([status, description]) => [status, { description, content: { "application/json": { schema: ref } } }]),
  );
  const params = [...r.path.matchAll(/:(\w+)/g)].map((m) => ({
    name: m[1],
    in: "path",
    required: true,
    schema: { type: "string" },
  }));
  const query = (r.doc.query ?? []).map((name) => ({ name, in: "query", required: false, schema: { type: "string" } }));
  return {
    summary: r.doc.summary,
    ...(r.access === "public" ? { security: [] } : {}),
    ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
    ...(r.doc.body
      ? {
          requestBody: {
            required: true,
            content: { "application/json": { schema: { $ref: `#/components/schemas/${r.doc.body}` } } },
          },
        }
      : {}),
    responses: { [r.doc.ok[0]]: { description: r.doc.ok[1] }, ...errors },
  };
}

/**
 * The OpenAPI document, generated from the route table the app is built from (routeTable.ts)
 * and from the zod schemas that validate requests. Its server is relative ("/"): the document
 * is served by the server it describes, and a Host header chosen by a client must not end up in it.
 */
export function openApiDocument(routes: readonly Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) (paths[openApiPath(r.path)] ??= {})[r.method] = operation(r);
  return {
    openapi: "3.1.0",
    info: {
      title: "Lunaris Server",
      version: "0.1.0",
      description: `OpenAI-compatible API serving ${LUNARIS.id}. Prices: $${LUNARIS.prices.inputMicrosPerMillion / 1e6} in / $${LUNARIS.prices.outputMicrosPerMillion / 1e6} out per million tokens.`,
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        ChatCompletionRequest: jsonSchemaOf(chatCompletionRequestSchema),
        CompletionRequest: jsonSchemaOf(completionRequestSchema),
        LlamaCompletionRequest: jsonSchemaOf(llamaCompletionRequestSchema),
        CreateKey: jsonSchemaOf(createKeySchema),
        UpdateKey: jsonSchemaOf(updateKeySchema),
        Tokenize: jsonSchemaOf(tokenizeSchema),
        Detokenize: jsonSchemaOf(detokenizeSchema),
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["message", "type", "param", "code"],
              properties: {
                message: { type: "string" },
                type: { type: "string" },
                param: { type: ["string", "null"] },
                code: { type: ["string", "null"] },
              },
            },
          },
        },
      },
    },
  };
}
