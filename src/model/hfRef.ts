/** `hf:owner/repo:QUANT` or `hf:owner/repo/path/to/file.gguf`. */
export interface HfRef {
  repo: string;
  /** A file path inside the repo, or null when a quantization tag picks it. */
  file: string | null;
  quant: string | null;
}

export function isHfRef(s: string): boolean {
  return s.startsWith("hf:") || s.startsWith("hf.co/") || s.startsWith("huggingface:");
}

export function parseHfRef(s: string): HfRef {
  const body = s.replace(/^(hf:|hf\.co\/|huggingface:)/, "");
  const [repoPart, quant] = body.split(":", 2);
  const parts = (repoPart ?? "").split("/");
  if (parts.length < 2 || !parts[0] || !parts[1]) {
    throw new Error(`'${s}' is not a Hugging Face reference; use hf:owner/repo:QUANT or hf:owner/repo/file.gguf`);
  }
  const repo = `${parts[0]}/${parts[1]}`;
  const file = parts.length > 2 ? parts.slice(2).join("/") : null;
  if (!file && !quant) throw new Error(`'${s}' names no file: add a quantization (…:Q4_K_M) or a file path`);
  return { repo, file, quant: quant ?? null };
}

/** Picks the repo's GGUF for a quantization tag: a single-file match, the shortest name first. */
export function pickGgufFile(files: readonly string[], quant: string): string | null {
  const q = quant.toLowerCase();
  const matches = files.filter((f) => {
    const name = f.toLowerCase();
    return name.endsWith(".gguf") && !/-\d{5}-of-\d{5}\.gguf$/.test(name) && name.includes(q);
  });
  matches.sort((a, b) => a.length - b.length);
  return matches[0] ?? null;
}
