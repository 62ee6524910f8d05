import { readGgufFileInfo } from "node-llama-cpp";
import { TokenBytes } from "../src/engine/tokenBytes.js";

/**
 * Token ids whose bytes are not valid UTF-8 on their own (byte tokens and fragments of
 * multi-byte characters), read from the model's own vocabulary: 1,352 of Llama 3's 128,256.
 *
 * Why the benchmark bans them for both servers: llama-server parses every streamed chunk as a
 * chat message, and its parser throws on text that ends inside a character ("does not match the
 * expected Content-only format"); it then ends that stream with an error and frees the slot.
 * Random weights pick such tokens often (5 of 8 streams of 48 tokens died on the small shape),
 * and every stream that dies makes the others' batches smaller and their tokens faster: the
 * concurrency rows measured llama-server on fewer streams than ours. With these tokens
 * banned in the request itself, both servers sample alike and no stream dies (10 of 10).
 */
export async function partialUtf8Tokens(modelPath: string): Promise<number[]> {
  const md = (await readGgufFileInfo(modelPath)).metadata as unknown as {
    tokenizer: { ggml: { tokens: readonly string[]; token_type: readonly number[] } };
  };
  const bytes = new TokenBytes(md.tokenizer.ggml.tokens, md.tokenizer.ggml.token_type);
  const strict = new TextDecoder("utf-8", { fatal: true });
  const out: number[] = [];
  for (let t = 0; t < bytes.size; t++) {
    try {
      strict.decode(bytes.uncached(t));
    } catch {
      out.push(t);
    }
  }
  return out;
}
