import { readFileSync } from "node:fs";
import type { Context } from "hono";
import type { ApiDeps, AppEnv } from "../deps.js";

const WEB = new URL("../../../web/", import.meta.url);
const read = (name: string) => readFileSync(new URL(name, WEB), "utf8");

/** The playground page at `/`: static files, with the model card filled in at request time. */
export function playgroundHandler(deps: ApiDeps) {
  const html = read("index.html");
  return (c: Context<AppEnv>) => {
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
  };
}

/** One of the playground's static files, read once. */
export function playgroundAsset(name: "app.js" | "style.css") {
  const body = read(name);
  const type = name.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8";
  return () => (c: Context<AppEnv>) => c.body(body, 200, { "content-type": type });
}
