import type { Context } from "hono";
import type { ApiDeps } from "../deps.js";

export function listModelsHandler(deps: ApiDeps) {
  return (c: Context) => c.json({ object: "list", data: deps.models() });
}
