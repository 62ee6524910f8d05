import { existsSync } from "node:fs";
import path from "node:path";
import { type DownloadOptions, downloadHfModel } from "./download.js";
import { isHfRef } from "./hfRef.js";
import { ensureModel } from "./makeModel.js";

export interface ResolvedModel {
  path: string;
  demo: boolean;
}

/**
 * `--model` → a local GGUF path: `demo` generates the tiny random-weights model once;
 * `hf:` references download once into the cache; anything else must be a file.
 */
export async function resolveModelPath(model: string, o: DownloadOptions): Promise<ResolvedModel> {
  if (model === "demo") {
    const file = ensureModel(path.join(o.cacheDir, "demo"), "tiny", "q8_0", {
      prefix: "lunaris-demo",
      onWrite: () => o.log?.("generating the demo model (random weights, real Llama 3 tokenizer)…"),
    });
    return { path: file, demo: true };
  }
  if (isHfRef(model)) return { path: await downloadHfModel(model, o), demo: false };
  const file = path.resolve(model);
  if (!existsSync(file)) {
    throw new Error(`Model file not found: ${file}. Pass a GGUF path, an hf:owner/repo:QUANT reference, or 'demo'.`);
  }
  return { path: file, demo: false };
}
