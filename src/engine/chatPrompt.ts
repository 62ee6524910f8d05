import { toolCallsText } from "./tools/llama3ToolFormat.js";
import type { ChatMessage } from "./types.js";

/** Llama 3 special token ids used by the chat template. */
export interface Llama3Specials {
  bos: number;
  startHeader: number;
  endHeader: number;
  eot: number;
}

/**
 * Renders messages with the Llama 3 Instruct template into token ids:
 * `<|begin_of_text|>` then per message `<|start_header_id|>role<|end_header_id|>\n\n{content|trim}<|eot_id|>`,
 * then the assistant header.
 *
 * Text is tokenized piece by piece between special tokens, which is exactly how the Hugging
 * Face tokenizer splits the rendered string, and means a user who types "<|eot_id|>" gets the
 * plain-text tokens, never the control token.
 *
 * A final assistant message is a prefill: it is left open (no `<|eot_id|>`, no new header),
 * so the reply continues its text. Tool results are `ipython` turns and an assistant's
 * earlier tool calls are written in the tool format (llama3ToolFormat.ts).
 */
export function renderLlama3Prompt(
  messages: readonly ChatMessage[],
  tokenize: (text: string) => number[],
  specials: Llama3Specials,
): number[] {
  return renderLlama3Pieces(messages, specials).flatMap((p) => (typeof p === "number" ? [p] : tokenize(p)));
}

/**
 * The same rendering as special token ids and plain-text pieces, in order: what llama-server's
 * `/tokenize` takes as a "mixed" prompt (text tokenized without parsing special tokens).
 */
export function renderLlama3Pieces(messages: readonly ChatMessage[], specials: Llama3Specials): (string | number)[] {
  const out: (string | number)[] = [specials.bos];
  const last = messages.length - 1;
  messages.forEach((m, i) => {
    out.push(specials.startHeader, m.role === "tool" ? "ipython" : m.role, specials.endHeader);
    const isPrefill = i === last && m.role === "assistant" && !m.toolCalls?.length;
    const text = m.toolCalls?.length
      ? [m.content.trim(), toolCallsText(m.toolCalls)].filter((t) => t !== "").join("\n")
      : m.content;
    const content = isPrefill ? text.trimStart() : text.trim();
    out.push(`\n\n${content}`);
    if (!isPrefill) out.push(specials.eot);
  });
  const final = messages[last];
  if (final?.role !== "assistant" || final.toolCalls?.length) {
    out.push(specials.startHeader, "assistant", specials.endHeader, "\n\n");
  }
  return out;
}
