import type { Command } from "commander";
import { DEFAULT_SEED, MODEL_TYPES, type ModelType, SHAPES, type ShapeName, makeModel } from "../model/makeModel.js";
import { createProgressBar } from "./progressBar.js";

export function registerMakeModel(program: Command): void {
  program
    .command("make-model")
    .description(
      "Write a random-weights Llama 3 GGUF with the real tokenizer and chat template (for tests and benchmarks)",
    )
    .requiredOption("--out <file.gguf>", "output file")
    .option(
      "--shape <tiny|small|lunaris>",
      "tiny: 2 small layers; small: Llama 3.2 1B's shape; lunaris: the exact 8B shape",
      "tiny",
    )
    .option("--type <type>", `tensor type: ${MODEL_TYPES.join("|")}`, "q8_0")
    .option("--seed <n>", "weights seed: the same seed writes the same file", String(DEFAULT_SEED))
    .action((opts: { out: string; shape: string; type: string; seed: string }) => {
      if (!(opts.shape in SHAPES)) throw new Error(`--shape must be one of ${Object.keys(SHAPES).join(", ")}`);
      if (!(MODEL_TYPES as readonly string[]).includes(opts.type))
        throw new Error(`--type must be one of ${MODEL_TYPES.join(", ")}`);
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
        throw new Error("--seed must be an integer from 0 to 4294967295");
      const bar = createProgressBar(opts.out);
      const started = Date.now();
      const bytes = makeModel({
        shape: opts.shape as ShapeName,
        type: opts.type as ModelType,
        out: opts.out,
        seed,
        onProgress: (d, t) => bar.update(d, t),
      });
      bar.end();
      process.stderr.write(
        `wrote ${opts.out}: ${(bytes / 1e6).toFixed(1)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
    });
}
