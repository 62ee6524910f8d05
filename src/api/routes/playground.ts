import { readFileSync } from "node:fs";
import { Hono } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";

const WEB = new URL("../../../web/", import.meta.url);
const read = (name: string) => readFileSync(new URL(name, WEB), "utf8");

/** The playground page at `/`: static files, with the model card filled in at request time. */
export function playgroundRoutes(deps: ApiDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const html = read("index.html");
  const js = read("app.js");
  const css = read("style.css");
  r.get("/", (c) => {
    const m = deps.models()[0];
    const card = {
      id: m?.id,
      description: m?.metadata.description,
      price_in: m?.pricing.input_tokens,
      price_out: m?.pricing.output_tokens,
      context_length: m?.context_length,
      precision: m?.metadata.precision,
      quantization: m?.metadata.quantization,
      recommended: m?.metadata.recommended_settings,
      demo: m?.metadata.demo === true,
    };
    // JSON inside <script>: escape "<" so no "</script>" can end the element early.
    return c.html(html.replace("__MODEL_CARD__", JSON.stringify(card).replace(/</g, "\\u003c")));
  });
  r.get("/playground/app.js", (c) => c.body(js, 200, { "content-type": "text/javascript; charset=utf-8" }));
  r.get("/playground/style.css", (c) => c.body(css, 200, { "content-type": "text/css; charset=utf-8" }));
  return r;
}
