import type { Context } from "hono";
import type { ApiDeps } from "../deps.js";
import { modelNotFound } from "../errors.js";

/** GET /v1/models: every served id (the catalogue id, aliases, the demo id). */
export function listModelsHandler(deps: ApiDeps) {
  return (c: Context) => c.json({ object: "list", data: deps.models() });
}

/**
 * GET /v1/models/{id}: the same object as the list's entry. Ids hold a slash, which the SDKs
 * send encoded (`Sao10K%2FL3-8B-Lunaris-v1`) and curl users raw: the route takes the rest of
 * the path, and hono decodes it.
 */
export function retrieveModelHandler(deps: ApiDeps) {
  return (c: Context) => {
    const id = c.req.param("id") ?? "";
    const models = deps.models();
    const found = models.find((m) => m.id === id);
    if (!found)
      throw modelNotFound(
        id,
        models.map((m) => m.id),
      );
    return c.json(found);
  };
}
