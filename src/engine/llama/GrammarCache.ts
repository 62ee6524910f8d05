import type { Llama, LlamaGrammar } from "node-llama-cpp";
import { EngineError } from "../errors.js";

/**
 * Compiled grammars kept for reuse (agents send the same tools and schemas every turn), bounded
 * by their GBNF text: a compiled grammar's native size follows its rules (under fuzzing an
 * unbounded-by-size cache of 32 raised RSS by 300 MiB).
 */
const GRAMMAR_CACHE_BYTES = 4 * 2 ** 20;

/** GBNF text → compiled grammar, compiled once and reused, least recently used dropped. */
export class GrammarCache {
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();
  private bytes = 0;

  constructor(private readonly llama: Llama) {}

  get(gbnf: string): Promise<LlamaGrammar> {
    let g = this.grammars.get(gbnf);
    if (g) this.grammars.delete(gbnf);
    else {
      // llama.cpp refuses some grammars our converters cannot rule out in advance (left
      // recursion, limits of its parser): the request's fault, a 400, never a 500.
      g = this.llama.createGrammar({ grammar: gbnf }).catch((e: unknown) => {
        throw new EngineError(
          "unsupported_schema",
          `The output grammar for this request could not be compiled (${(e as Error).message}).`,
        );
      });
      this.bytes += gbnf.length;
    }
    this.grammars.set(gbnf, g);
    for (const [text] of this.grammars) {
      if (this.bytes <= GRAMMAR_CACHE_BYTES || text === gbnf) break;
      this.grammars.delete(text);
      this.bytes -= text.length;
    }
    g.catch(() => {
      if (this.grammars.get(gbnf) === g && this.grammars.delete(gbnf)) this.bytes -= gbnf.length;
    });
    return g;
  }
}
