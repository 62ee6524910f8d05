import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { defaultCacheDir } from "../config/paths.js";

function ggufFiles(dir: string): string[] {
  let out: string[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(ggufFiles(p));
    else if (name.endsWith(".gguf") || name.endsWith(".gguf.part")) out.push(p);
  }
  return out;
}

export function registerModels(program: Command): void {
  program
    .command("models")
    .description("List the models in the cache (downloaded, partly downloaded, generated)")
    .option("--cache-dir <dir>", "model cache", defaultCacheDir())
    .action((o: { cacheDir: string }) => {
      const files = ggufFiles(o.cacheDir);
      if (files.length === 0) {
        process.stdout.write(
          `No models in ${o.cacheDir}. Get one with: lunaris pull hf:bartowski/L3-8B-Lunaris-v1-GGUF:Q4_K_M\n`,
        );
        return;
      }
      for (const f of files) {
        const size = `${(statSync(f).size / 1e9).toFixed(2)} GB`.padStart(9);
        const rel = path.relative(o.cacheDir, f);
        const ref = rel.startsWith(`hf${path.sep}`)
          ? `hf:${rel.slice(3).split(path.sep).slice(0, 2).join("/")}/${rel.split(path.sep).slice(3).join("/")}`
          : rel;
        process.stdout.write(`${size}  ${ref.replace(/\.part$/, " (partial: run lunaris pull again to resume)")}\n`);
      }
    });
}
