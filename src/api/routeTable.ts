import type { Handler } from "hono";
import type { ApiDeps, AppEnv } from "./deps.js";
import {
  createKeyHandler,
  getKeyHandler,
  listKeysHandler,
  revokeKeyHandler,
  updateKeyHandler,
} from "./routes/adminKeys.js";
import { adminUpstreamsHandler } from "./routes/adminUpstreams.js";
import { chatCompletionsHandler } from "./routes/chatCompletions.js";
import { healthHandler } from "./routes/health.js";
import { detokenizeHandler, propsHandler, tokenizeHandler } from "./routes/llamacppHelpers.js";
import { llamaCompletionHandler } from "./routes/llamaCompletion.js";
import { listModelsHandler, retrieveModelHandler } from "./routes/models.js";
import { openApiDocument } from "./openapi.js";
import { playgroundAsset, playgroundHandler } from "./routes/playground.js";
import { textCompletionsHandler } from "./routes/textCompletions.js";
import { adminUsageHandler, ownUsageHandler } from "./routes/usage.js";

/** Components of the OpenAPI document that a route's request body refers to. */
export type BodySchema =
  | "ChatCompletionRequest"
  | "CompletionRequest"
  | "LlamaCompletionRequest"
  | "CreateKey"
  | "UpdateKey"
  | "Tokenize"
  | "Detokenize";

export interface Route {
  method: "get" | "post" | "patch" | "delete";
  /** hono's path syntax (`:id{.+}` for an id holding slashes); the OpenAPI path is derived from it. */
  path: string;
  /** public: no key; key: any valid key; admin: an admin key. */
  access: "public" | "key" | "admin";
  /** Per-key limits (requests, tokens, concurrency, budget) apply: the generation routes. */
  limited?: boolean;
  handler(deps: ApiDeps): Handler<AppEnv>;
  doc: {
    summary: string;
    body?: BodySchema;
    /** Success status and what it returns. */
    ok: [status: "200" | "201", description: string];
    query?: readonly string[];
  };
}

/** Both the provider's prefix and OpenAI's plain one serve the OpenAI routes. */
const underBoth = (path: string, route: Omit<Route, "path">): Route[] =>
  ["/v1/openai", "/v1"].map((prefix) => ({ ...route, path: `${prefix}${path}` }));

/**
 * Every route the API serves, in one table: the app registers them from it (app.ts) and
 * /openapi.json describes them from it (openapi.ts), so the two cannot drift apart.
 */
export const ROUTES: readonly Route[] = [
  ...underBoth("/chat/completions", {
    method: "post",
    access: "key",
    limited: true,
    handler: chatCompletionsHandler,
    doc: {
      summary: "Chat completion (JSON, or SSE with stream: true ending with data: [DONE])",
      body: "ChatCompletionRequest",
      ok: ["200", "A chat.completion object, or a text/event-stream of chat.completion.chunk events"],
    },
  }),
  ...underBoth("/completions", {
    method: "post",
    access: "key",
    limited: true,
    handler: textCompletionsHandler,
    doc: {
      summary: "Legacy text completion from a pre-formatted prompt or token ids (JSON, or SSE with stream: true)",
      body: "CompletionRequest",
      ok: ["200", "A text_completion object or an SSE stream ending with data: [DONE]"],
    },
  }),
  ...underBoth("/models", {
    method: "get",
    access: "key",
    handler: listModelsHandler,
    doc: { summary: "List served models", ok: ["200", "A list of models"] },
  }),
  ...underBoth("/models/:id{.+}", {
    method: "get",
    access: "key",
    handler: retrieveModelHandler,
    doc: {
      summary: "One served model (its id's slash raw or encoded as %2F): the same object as its entry in the list",
      ok: ["200", "The model"],
    },
  }),
  ...underBoth("/usage", {
    method: "get",
    access: "key",
    handler: ownUsageHandler,
    doc: {
      summary: "The calling key's usage by day and model",
      ok: ["200", "Usage buckets and totals"],
      query: ["since", "until"],
    },
  }),
  {
    method: "get",
    path: "/v1/admin/keys",
    access: "admin",
    handler: listKeysHandler,
    doc: { summary: "List keys (admin)", ok: ["200", "Keys"] },
  },
  {
    method: "post",
    path: "/v1/admin/keys",
    access: "admin",
    handler: createKeyHandler,
    doc: {
      summary: "Create a key; the secret is returned once (admin)",
      body: "CreateKey",
      ok: ["201", "The key with its secret"],
    },
  },
  {
    method: "get",
    path: "/v1/admin/keys/:id",
    access: "admin",
    handler: getKeyHandler,
    doc: { summary: "Read a key (admin)", ok: ["200", "The key"] },
  },
  {
    method: "patch",
    path: "/v1/admin/keys/:id",
    access: "admin",
    handler: updateKeyHandler,
    doc: { summary: "Change a key's name or limits (admin)", body: "UpdateKey", ok: ["200", "The key"] },
  },
  {
    method: "delete",
    path: "/v1/admin/keys/:id",
    access: "admin",
    handler: revokeKeyHandler,
    doc: { summary: "Revoke a key (admin)", ok: ["200", "The revoked key"] },
  },
  {
    method: "get",
    path: "/v1/admin/usage",
    access: "admin",
    handler: adminUsageHandler,
    doc: { summary: "Usage of any key or all keys (admin)", ok: ["200", "Usage"], query: ["key_id", "since", "until"] },
  },
  {
    method: "get",
    path: "/v1/admin/upstreams",
    access: "admin",
    handler: adminUpstreamsHandler,
    doc: {
      summary: "A gateway's upstream engines: health, load, requests, prefix hits (admin)",
      ok: ["200", "A list of upstreams"],
    },
  },
  {
    method: "post",
    path: "/completion",
    access: "key",
    limited: true,
    handler: llamaCompletionHandler,
    doc: {
      summary: "llama.cpp's native text completion (llama-server's request fields, defaults and reply shapes)",
      body: "LlamaCompletionRequest",
      ok: ["200", "{content, stop, tokens_predicted, timings, …}, or an SSE stream of such chunks"],
    },
  },
  {
    method: "post",
    path: "/tokenize",
    access: "key",
    handler: tokenizeHandler,
    doc: { summary: "Text to token ids (llama-server's helper)", body: "Tokenize", ok: ["200", "{tokens}"] },
  },
  {
    method: "post",
    path: "/detokenize",
    access: "key",
    handler: detokenizeHandler,
    doc: { summary: "Token ids to text (llama-server's helper)", body: "Detokenize", ok: ["200", "{content}"] },
  },
  {
    method: "get",
    path: "/props",
    access: "key",
    handler: propsHandler,
    doc: {
      summary: "Context size, chat template, special tokens and default settings (llama-server's helper)",
      ok: ["200", "Properties"],
    },
  },
  {
    method: "get",
    path: "/health",
    access: "public",
    handler: healthHandler,
    doc: {
      summary: "200 when serving; 503 while the model loads (or, for a gateway, while no upstream is healthy)",
      ok: ["200", "ok"],
    },
  },
  {
    method: "get",
    path: "/metrics",
    access: "public",
    handler: (deps) => async (c) =>
      c.text(await deps.metrics.registry.metrics(), 200, { "content-type": deps.metrics.registry.contentType }),
    doc: { summary: "Prometheus metrics", ok: ["200", "text/plain; version=0.0.4"] },
  },
  {
    method: "get",
    path: "/openapi.json",
    access: "public",
    handler: () => (c) => c.json(openApiDocument(ROUTES)),
    doc: { summary: "This document", ok: ["200", "OpenAPI 3.1"] },
  },
  {
    method: "get",
    path: "/",
    access: "public",
    handler: playgroundHandler,
    doc: { summary: "The playground (HTML)", ok: ["200", "text/html"] },
  },
  {
    method: "get",
    path: "/playground/app.js",
    access: "public",
    handler: playgroundAsset("app.js"),
    doc: { summary: "The playground's script", ok: ["200", "text/javascript"] },
  },
  {
    method: "get",
    path: "/playground/style.css",
    access: "public",
    handler: playgroundAsset("style.css"),
    doc: { summary: "The playground's style sheet", ok: ["200", "text/css"] },
  },
];
