import type { Command } from "commander";
import { downloadHfModel } from "../model/download.js";
import { defaultCacheDir } from "../config/paths.js";
import { createProgressBar } from "./progressBar.js";

export function registerPull(program: Command): void {
  program
    .command("pull <hf-ref>")
    .description(
      "Download a GGUF from Hugging Face into the cache (resumable), e.g. hf:bartowski/L3-8B-Lunaris-v1-GGUF:Q4_K_M",
    )
    .option("--cache-dir <dir>", "model cache", defaultCacheDir())
    .action(async (ref: string, opts: { cacheDir: string }) => {
      const bar = createProgressBar("pull");
      const file = await downloadHfModel(ref, {
        cacheDir: opts.cacheDir,
        token: process.env.HF_TOKEN,
        onProgress: (d, t) => bar.update(d, t),
        log: (m) => process.stderr.write(`${m}\n`),
      });
      bar.end();
      process.stdout.write(`${file}\n`);
    });
}
