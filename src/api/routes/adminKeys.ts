import { Hono } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";
import { keyNotFound } from "../errors.js";
import { readJsonBody } from "../middleware/readJsonBody.js";
import { createKeySchema, toKeyObject, toLimitPatch, updateKeySchema } from "../protocol/accountingWire.js";
import { parseWith } from "../protocol/parseWith.js";


/** /v1/admin/keys: create (the secret is returned once), list, read, update limits, revoke. */
export function adminKeysRoutes(deps: ApiDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const acc = deps.accounting;

  r.get("/", async (c) => c.json({ object: "list", data: (await acc.listKeys()).map(toKeyObject) }));

  r.post("/", async (c) => {
    const b = parseWith(createKeySchema, await readJsonBody(c));
    const { name, ...limits } = toLimitPatch(b);
    const { key, secret } = await acc.createKey({ name: name ?? b.name, isAdmin: b.admin ?? false, ...limits });
    return c.json({ ...toKeyObject(key), secret }, 201);
  });

  r.get("/:id", async (c) => {
    const key = await acc.getKey(c.req.param("id"));
    if (!key) throw keyNotFound(c.req.param("id"));
    return c.json(toKeyObject(key));
  });

  r.patch("/:id", async (c) => {
    const patch = toLimitPatch(parseWith(updateKeySchema, await readJsonBody(c)));
    const key = await acc.updateKey(c.req.param("id"), patch);
    if (!key) throw keyNotFound(c.req.param("id"));
    return c.json(toKeyObject(key));
  });

  r.delete("/:id", async (c) => {
    const id = c.req.param("id");
    if (!(await acc.getKey(id))) throw keyNotFound(id);
    await acc.revokeKey(id);
    const key = await acc.getKey(id);
    return c.json(key ? toKeyObject(key) : { id });
  });

  return r;
}
