import { zodToJsonSchema } from "zod-to-json-schema";
import { LUNARIS } from "../catalog.js";
import { createKeySchema, updateKeySchema } from "./protocol/accountingWire.js";
import { chatCompletionRequestSchema } from "./protocol/chatCompletionRequest.js";
import { completionRequestSchema } from "./protocol/completionRequest.js";
import { llamaCompletionRequestSchema } from "./protocol/llamaCompletionRequest.js";

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
  for (const [ex, bound] of [["exclusiveMinimum", "minimum"], ["exclusiveMaximum", "maximum"]] as const) {
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

/**
 * The OpenAPI document, generated from the same zod schemas that validate requests. Its server
 * is relative ("/"): the document is served by the server it describes, and a Host header
 * chosen by a client must not end up in it.
 */
export function openApiDocument(): Record<string, unknown> {
  const schema = jsonSchemaOf;
  const error = {
    description: "OpenAI-shaped error",
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  };
  const errors = { "400": error, "401": error, "403": error, "404": error, "413": error, "429": error, "500": error, "503": error, "504": error };
  const json = (ref: string) => ({ content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } } });
  const chat = {
    post: {
      summary: "Create a chat completion (JSON, or SSE with stream: true)",
      requestBody: { required: true, ...json("ChatCompletionRequest") },
      responses: {
        "200": {
          description: "A chat.completion object, or a text/event-stream of chat.completion.chunk events ending with data: [DONE]",
          content: { "application/json": {}, "text/event-stream": {} },
        },
        ...errors,
      },
    },
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "Lunaris Server",
      version: "0.1.0",
      description: `OpenAI-compatible API serving ${LUNARIS.id}. Prices: $${LUNARIS.prices.inputMicrosPerMillion / 1e6} in / $${LUNARIS.prices.outputMicrosPerMillion / 1e6} out per million tokens.`,
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    paths: {
      "/v1/openai/chat/completions": chat,
      "/v1/chat/completions": chat,
      "/v1/openai/models": { get: { summary: "List served models", responses: { "200": { description: "A list of models" } } } },
      "/v1/models": { get: { summary: "List served models", responses: { "200": { description: "A list of models" } } } },
      ...Object.fromEntries(
        ["/v1/openai/models/{id}", "/v1/models/{id}"].map((p) => [
          p,
          {
            parameters: [{ name: "id", in: "path", required: true, description: "A served id or alias; its slash raw or encoded (%2F)", schema: { type: "string" } }],
            get: { summary: "One served model: the same object as its entry in the list", responses: { "200": { description: "The model" }, ...errors } },
          },
        ]),
      ),
      ...Object.fromEntries(
        ["/v1/openai/completions", "/v1/completions"].map((p) => [
          p,
          {
            post: {
              summary: "Legacy text completion from a pre-formatted prompt or token ids (JSON, or SSE with stream: true)",
              requestBody: { required: true, ...json("CompletionRequest") },
              responses: { "200": { description: "A text_completion object or an SSE stream ending with data: [DONE]" }, ...errors },
            },
          },
        ]),
      ),
      "/completion": {
        post: {
          summary: "llama.cpp's native text completion (llama-server's request fields, defaults and reply shapes)",
          requestBody: { required: true, ...json("LlamaCompletionRequest") },
          responses: { "200": { description: "{content, stop, tokens_predicted, timings, …}, or an SSE stream of such chunks" }, ...errors },
        },
      },
      "/v1/usage": {
        get: {
          summary: "The calling key's usage by day and model",
          parameters: [
            { name: "since", in: "query", schema: { type: "string", format: "date" } },
            { name: "until", in: "query", schema: { type: "string", format: "date" } },
          ],
          responses: { "200": { description: "Usage buckets and totals" }, ...errors },
        },
      },
      "/v1/admin/keys": {
        get: { summary: "List keys (admin)", responses: { "200": { description: "Keys" }, ...errors } },
        post: { summary: "Create a key; the secret is returned once (admin)", requestBody: { required: true, ...json("CreateKey") }, responses: { "201": { description: "The key with its secret" }, ...errors } },
      },
      "/v1/admin/keys/{id}": {
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        get: { summary: "Read a key (admin)", responses: { "200": { description: "The key" }, ...errors } },
        patch: { summary: "Change a key's name or limits (admin)", requestBody: { required: true, ...json("UpdateKey") }, responses: { "200": { description: "The key" }, ...errors } },
        delete: { summary: "Revoke a key (admin)", responses: { "200": { description: "The revoked key" }, ...errors } },
      },
      "/v1/admin/usage": { get: { summary: "Usage of any key or all keys (admin)", responses: { "200": { description: "Usage" }, ...errors } } },
      "/v1/admin/upstreams": { get: { summary: "A gateway's upstream engines: health, load, requests, prefix hits (admin)", responses: { "200": { description: "A list of upstreams" }, ...errors } } },
      "/health": { get: { summary: "200 when serving, 503 while the model loads", security: [], responses: { "200": { description: "ok" }, "503": { description: "loading" } } } },
      "/metrics": { get: { summary: "Prometheus metrics", security: [], responses: { "200": { description: "text/plain; version=0.0.4" } } } },
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        ChatCompletionRequest: schema(chatCompletionRequestSchema),
        CompletionRequest: schema(completionRequestSchema),
        LlamaCompletionRequest: schema(llamaCompletionRequestSchema),
        CreateKey: schema(createKeySchema),
        UpdateKey: schema(updateKeySchema),
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["message", "type", "param", "code"],
              properties: { message: { type: "string" }, type: { type: "string" }, param: { type: ["string", "null"] }, code: { type: ["string", "null"] } },
            },
          },
        },
      },
    },
  };
}
