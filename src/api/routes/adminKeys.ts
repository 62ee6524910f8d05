import type { Context } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";
import { keyNotFound } from "../errors.js";
import { readJsonBody } from "../middleware/readJsonBody.js";
import { createKeySchema, toKeyObject, toLimitPatch, updateKeySchema } from "../protocol/accountingWire.js";
import { parseWith } from "../protocol/parseWith.js";

/** /v1/admin/keys: create (the secret is returned once), list, read, update limits, revoke. */

export function listKeysHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>) =>
    c.json({ object: "list", data: (await deps.accounting.listKeys()).map(toKeyObject) });
}

export function createKeyHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>) => {
    const b = parseWith(createKeySchema, await readJsonBody(c));
    const { name, ...limits } = toLimitPatch(b);
    const { key, secret } = await deps.accounting.createKey({
      name: name ?? b.name,
      isAdmin: b.admin ?? false,
      ...limits,
    });
    return c.json({ ...toKeyObject(key), secret }, 201);
  };
}

export function getKeyHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>) => {
    const key = await deps.accounting.getKey(c.req.param("id") ?? "");
    if (!key) throw keyNotFound(c.req.param("id") ?? "");
    return c.json(toKeyObject(key));
  };
}

export function updateKeyHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>) => {
    const patch = toLimitPatch(parseWith(updateKeySchema, await readJsonBody(c)));
    const key = await deps.accounting.updateKey(c.req.param("id") ?? "", patch);
    if (!key) throw keyNotFound(c.req.param("id") ?? "");
    return c.json(toKeyObject(key));
  };
}

export function revokeKeyHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>) => {
    const id = c.req.param("id") ?? "";
    if (!(await deps.accounting.getKey(id))) throw keyNotFound(id);
    await deps.accounting.revokeKey(id);
    const key = await deps.accounting.getKey(id);
    return c.json(key ? toKeyObject(key) : { id });
  };
}
