import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { LUNARIS } from "../catalog.js";
import { readSse } from "../client/readSse.js";

type Message = { role: "system" | "user" | "assistant"; content: string };

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  estimated_cost: number;
  prompt_tokens_details?: { cached_tokens?: number };
}

/** Streams one reply to stdout; returns its text and usage. */
async function streamReply(
  url: string,
  key: string | undefined,
  body: unknown,
): Promise<{ text: string; usage: Usage | null }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok || !res.body) {
    const err = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(err?.error?.message ?? `HTTP ${res.status}`);
  }
  let text = "";
  let usage: Usage | null = null;
  type Chunk = { choices?: { delta?: { content?: string } }[]; usage?: Usage };
  for await (const chunk of readSse<Chunk>(res.body as AsyncIterable<Uint8Array>)) {
    const delta = chunk.choices?.[0]?.delta?.content ?? "";
    text += delta;
    process.stdout.write(delta);
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, usage };
}

export function registerChat(program: Command): void {
  program
    .command("chat")
    .description("Chat with a running server in the terminal (/system <text>, /reset, /exit)")
    .option("--url <url>", "server URL", process.env.LUNARIS_URL ?? "http://127.0.0.1:8080")
    .option("--key <key>", "API key (default: LUNARIS_API_KEY)", process.env.LUNARIS_API_KEY)
    .option("--model <id>", "model id", LUNARIS.id)
    .option("--temperature <t>", "sampling temperature", Number)
    .option("--max-tokens <n>", "longest reply", Number)
    .action(async (o: { url: string; key?: string; model: string; temperature?: number; maxTokens?: number }) => {
      const health = await fetch(`${o.url}/health`).catch(() => null);
      if (!health) throw new Error(`no server at ${o.url}: start one with 'lunaris serve' or pass --url`);
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      let system = "";
      let history: Message[] = [];
      process.stdout.write(`Chatting with ${o.model} at ${o.url}. /system <text>, /reset, /exit.\n`);
      for (;;) {
        const line = (await rl.question("\n> ").catch(() => "/exit")).trim();
        if (line === "/exit" || line === "/quit") break;
        if (line === "/reset") {
          history = [];
          process.stdout.write("(conversation cleared)\n");
          continue;
        }
        if (line.startsWith("/system")) {
          system = line.slice("/system".length).trim();
          process.stdout.write(system ? "(system prompt set)\n" : "(system prompt cleared)\n");
          continue;
        }
        if (!line) continue;
        history.push({ role: "user", content: line });
        const messages: Message[] = system ? [{ role: "system", content: system }, ...history] : history;
        try {
          const { text, usage } = await streamReply(o.url, o.key, {
            model: o.model,
            messages,
            stream: true,
            stream_options: { include_usage: true },
            ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
            ...(o.maxTokens !== undefined ? { max_tokens: o.maxTokens } : {}),
          });
          history.push({ role: "assistant", content: text });
          if (usage) {
            process.stdout.write(
              `\n[${usage.prompt_tokens} in (${usage.prompt_tokens_details?.cached_tokens ?? 0} cached), ${usage.completion_tokens} out, $${usage.estimated_cost}]\n`,
            );
          }
        } catch (e) {
          history.pop();
          process.stdout.write(`\nerror: ${e instanceof Error ? e.message : String(e)}\n`);
        }
      }
      rl.close();
    });
}
