import type { Context } from "hono";
import { z } from "zod";
import type { ApiDeps, AppEnv } from "../deps.js";
import { readJsonBody } from "../middleware/readJsonBody.js";
import { parseWith } from "../protocol/parseWith.js";
import { SAMPLING_DEFAULTS } from "../translate/toGenerationRequest.js";

/**
 * llama.cpp-server-style helpers that text-completion front-ends (SillyTavern's llama.cpp
 * mode, Kobold Lite) call: /tokenize, /detokenize and /props.
 */
export const tokenizeSchema = z.object({
  content: z.string(),
  add_special: z.boolean().optional(),
  parse_special: z.boolean().optional(),
  with_pieces: z.boolean().optional(),
});
export const detokenizeSchema = z.object({ tokens: z.array(z.number().int().min(0)) });

export function tokenizeHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>) => {
    const b = parseWith(tokenizeSchema, await readJsonBody(c));
    const engine = deps.engine();
    const tokens = await engine.tokenize(b.content, b.parse_special ?? true, b.add_special === true);
    if (b.with_pieces)
      return c.json({
        tokens: await Promise.all(tokens.map(async (id) => ({ id, piece: await engine.detokenize([id]) }))),
      });
    return c.json({ tokens });
  };
}

export function detokenizeHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>) => {
    const b = parseWith(detokenizeSchema, await readJsonBody(c));
    return c.json({ content: await deps.engine().detokenize(b.tokens) });
  };
}

export function propsHandler(deps: ApiDeps) {
  return async (c: Context<AppEnv>) => {
    const engine = deps.engine();
    const info = (await engine.modelInfo?.()) ?? { chatTemplate: null, bosToken: "", eosToken: "" };
    const stats = engine.stats();
    return c.json({
      default_generation_settings: {
        n_ctx: engine.model.contextLength,
        params: { ...SAMPLING_DEFAULTS, n_predict: -1 },
      },
      total_slots: stats.totalSequences,
      model_alias: engine.model.id,
      model_path: engine.model.file,
      chat_template: info.chatTemplate,
      bos_token: info.bosToken,
      eos_token: info.eosToken,
      build_info: "lunaris-server",
    });
  };
}
