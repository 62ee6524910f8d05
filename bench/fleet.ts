/**
 * `npm run bench:fleet`: two Lunaris nodes behind a gateway, multi-turn chats, cache-aware
 * against round-robin routing (share of follow-up prompt tokens served from cache, TTFT p50/p90,
 * aggregate output tok/s), then the gateway's added latency per request against a server
 * running the model itself, in the same run. Results: bench/results/fleet.{json,md} and the
 * README table between <!-- fleet:start --> and <!-- fleet:end -->.
 *
 *   npm run bench:fleet -- [--shape small|tiny] [--chats 16] [--turns 6] [--max-tokens 12] [--overhead-requests 300]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ensureModel } from "../src/model/makeModel.js";
import { readSse } from "../src/client/readSse.js";
import { BENCH_CACHE } from "./llamaCppBuild.js";

const { values: args } = parseArgs({
  options: {
    shape: { type: "string", default: "small" },
    chats: { type: "string", default: "16" },
    turns: { type: "string", default: "6" },
    "max-tokens": { type: "string", default: "12" },
    "overhead-requests": { type: "string", default: "300" },
    /** Run only the routing comparison or only the gateway-overhead measurement. */
    only: { type: "string" },
  },
});
const CHATS = Number(args.chats);
const TURNS = Number(args.turns);
const MAX_TOKENS = Number(args["max-tokens"]);
const MODEL_ID = "Sao10K/L3-8B-Lunaris-v1";

interface Proc {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `lunaris serve …` as its own process; resolves once it serves. */
async function serve(args: string[]): Promise<Proc> {
  const child = spawn(
    process.execPath,
    [
      "bin/lunaris.js",
      "serve",
      "--port",
      "0",
      "--gpu",
      "off",
      "--log-level",
      "info",
      "--data-dir",
      mkdtempSync(path.join(os.tmpdir(), "lunaris-fleet-")),
      ...args,
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let url = "";
  await new Promise<void>((resolve, reject) => {
    let buf = "";
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = /listening on (http:\/\/[^ "]+)/.exec(buf);
      if (m?.[1]) url = m[1];
      if (url && /serving Sao10K|gateway over/.test(buf)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`lunaris serve exited (${code})`)));
  });
  child.stdout?.resume();
  return {
    url,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
}

interface Turn {
  turn: number;
  ttftMs: number;
  prompt: number;
  /** What a perfect cache could serve: the previous turn's prompt and reply, as the node holds them. */
  reusable: number;
  cached: number;
  completion: number;
}

/**
 * A role-play character card of about 400 tokens, different for every chat from its first
 * words: the shape of SillyTavern's system prompts, whose cards run to hundreds of tokens.
 */
function characterCard(i: number): string {
  const traits = ["patient", "curious", "stubborn", "generous", "wary", "cheerful", "proud", "gentle"];
  const places = ["harbour town", "mountain pass", "desert market", "river delta", "frozen keep", "forest shrine"];
  const lines = [
    `Character ${i}: ${["Aria", "Bram", "Cato", "Dara", "Eryn", "Fenn", "Galen", "Hale"][i % 8]} of the ${places[i % places.length]}.`,
  ];
  for (let k = 0; k < 12; k++) {
    lines.push(
      `Trait ${k + 1}: ${traits[(i + k) % traits.length]} when speaking with strangers, ${traits[(i * 3 + k) % traits.length]} with old friends, and always mindful of the ${places[(i + k) % places.length]} where the story began.`,
    );
  }
  lines.push(
    "Stay in character. Describe places, people, weather and the small things that make a world feel lived in. Keep every detail consistent.",
  );
  return lines.join("\n");
}

/** One chat, turn by turn, streamed: TTFT and the usage of each turn. */
async function chat(base: string, i: number): Promise<Turn[]> {
  const messages: { role: string; content: string }[] = [{ role: "system", content: characterCard(i) }];
  const out: Turn[] = [];
  let held = 0;
  for (let t = 0; t < TURNS; t++) {
    messages.push({ role: "user", content: `Turn ${t}: what happens next?` });
    const t0 = performance.now();
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: MODEL_ID,
        messages,
        max_tokens: MAX_TOKENS,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    let ttft = Number.NaN;
    let text = "";
    let usage: Usage | null = null;
    for await (const ev of readSse<{ choices: { delta?: { content?: string } }[]; usage?: Usage }>(res.body)) {
      const delta = ev.choices[0]?.delta?.content;
      if (delta && Number.isNaN(ttft)) ttft = performance.now() - t0;
      text += delta ?? "";
      if (ev.usage) usage = ev.usage;
    }
    if (!usage) throw new Error("no usage");
    out.push({
      turn: t,
      ttftMs: ttft,
      prompt: usage.prompt_tokens,
      reusable: held,
      cached: usage.prompt_tokens_details?.cached_tokens ?? 0,
      completion: usage.completion_tokens,
    });
    held = usage.prompt_tokens + usage.completion_tokens;
    messages.push({ role: "assistant", content: text });
  }
  return out;
}

interface PolicyResult {
  policy: string;
  followUpCachedShare: number;
  /** Cached tokens over what a perfect cache could have served (the previous turn's prompt and reply). */
  followUpReusedShare: number;
  followUpTtftP50: number;
  followUpTtftP90: number;
  firstTtftP50: number;
  outputTokPerS: number;
  requests: number;
  perNode: number[];
}

async function runPolicy(model: string, policy: "cache-aware" | "round-robin"): Promise<PolicyResult> {
  // Enough sequences for every chat to keep one (16 chats over 2 nodes): what routing decides is
  // then whether a turn finds its conversation where it goes.
  const node = () =>
    serve([
      "--role",
      "engine",
      "--model",
      model,
      "--threads",
      "1",
      "--parallel",
      String(Math.ceil(CHATS / 2)),
      "--ctx-size",
      "2048",
    ]);
  const nodes = await Promise.all([node(), node()]);
  const gateway = await serve([
    "--upstream",
    nodes[0]?.url as string,
    "--upstream",
    nodes[1]?.url as string,
    "--routing",
    policy,
  ]);
  await new Promise((r) => setTimeout(r, 500));
  try {
    const t0 = performance.now();
    const chats = await Promise.all(Array.from({ length: CHATS }, (_, i) => chat(gateway.url, i)));
    const wall = (performance.now() - t0) / 1000;
    const turns = chats.flat();
    const follow = turns.filter((t) => t.turn > 0);
    const ups = ((await (await fetch(`${gateway.url}/v1/admin/upstreams`)).json()) as { data: { requests: number }[] })
      .data;
    return {
      policy,
      followUpCachedShare: follow.reduce((a, t) => a + t.cached, 0) / follow.reduce((a, t) => a + t.prompt, 0),
      followUpReusedShare:
        follow.reduce((a, t) => a + Math.min(t.cached, t.reusable), 0) / follow.reduce((a, t) => a + t.reusable, 0),
      followUpTtftP50: quantile(
        follow.map((t) => t.ttftMs),
        0.5,
      ),
      followUpTtftP90: quantile(
        follow.map((t) => t.ttftMs),
        0.9,
      ),
      firstTtftP50: quantile(
        turns.filter((t) => t.turn === 0).map((t) => t.ttftMs),
        0.5,
      ),
      outputTokPerS: turns.reduce((a, t) => a + t.completion, 0) / wall,
      requests: turns.length,
      perNode: ups.map((u) => u.requests),
    };
  } finally {
    await gateway.stop();
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

/** Median latency of 1-token completions: a server running the model vs a gateway in front of a node, interleaved. */
async function gatewayOverhead(
  model: string,
  n: number,
): Promise<{ direct: number; gateway: number; added: number; n: number }> {
  const [direct, node] = await Promise.all([
    serve(["--model", model, "--threads", "1"]),
    serve(["--role", "engine", "--model", model, "--threads", "1"]),
  ]);
  const gateway = await serve(["--upstream", node.url]);
  await new Promise((r) => setTimeout(r, 500));
  const one = async (base: string) => {
    const t0 = performance.now();
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: MODEL_ID,
        messages: [{ role: "user", content: "Hi" }],
        max_tokens: 1,
        temperature: 0,
      }),
    });
    await res.arrayBuffer();
    return performance.now() - t0;
  };
  try {
    for (let i = 0; i < 20; i++) await Promise.all([one(direct.url), one(gateway.url)]).catch(() => undefined); // warm-up
    const d: number[] = [];
    const g: number[] = [];
    for (let i = 0; i < n; i++) {
      if (i % 2 === 0) {
        d.push(await one(direct.url));
        g.push(await one(gateway.url));
      } else {
        g.push(await one(gateway.url));
        d.push(await one(direct.url));
      }
    }
    const direct50 = quantile(d, 0.5);
    const gateway50 = quantile(g, 0.5);
    return { direct: direct50, gateway: gateway50, added: gateway50 - direct50, n };
  } finally {
    await Promise.all([direct.stop(), gateway.stop(), node.stop()]);
  }
}

const shape = args.shape as "small" | "tiny";
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const ms = (x: number) => x.toFixed(0);

function routingTable(ca: PolicyResult, rr: PolicyResult): string[] {
  return [
    "| | cache-aware | round-robin | cache-aware / round-robin |",
    "|---|---|---|---|",
    `| follow-up prompt tokens served from cache | ${pct(ca.followUpCachedShare)} | ${pct(rr.followUpCachedShare)} | |`,
    `| … of what the previous turn left in a cache | ${pct(ca.followUpReusedShare)} | ${pct(rr.followUpReusedShare)} | |`,
    `| follow-up TTFT p50 / p90 (ms) | ${ms(ca.followUpTtftP50)} / ${ms(ca.followUpTtftP90)} | ${ms(rr.followUpTtftP50)} / ${ms(rr.followUpTtftP90)} | ${(ca.followUpTtftP50 / rr.followUpTtftP50).toFixed(2)}× (p50) |`,
    `| first-turn TTFT p50 (ms) | ${ms(ca.firstTtftP50)} | ${ms(rr.firstTtftP50)} | |`,
    `| aggregate output (tok/s) | ${ca.outputTokPerS.toFixed(1)} | ${rr.outputTokPerS.toFixed(1)} | ${(ca.outputTokPerS / rr.outputTokPerS).toFixed(2)}× |`,
    `| requests per node | ${ca.perNode.join(" / ")} | ${rr.perNode.join(" / ")} | |`,
  ];
}

process.stderr.write(
  `fleet bench: ${CHATS} chats x ${TURNS} turns, ${shape} shape, 2 nodes (1 thread, ${Math.ceil(CHATS / 2)} slots each)\n`,
);
const results: PolicyResult[] = [];
if (args.only !== "overhead") {
  const model = ensureModel(BENCH_CACHE, shape, "q8_0", {
    onWrite: () => process.stderr.write(`writing the ${shape} random-weights model…\n`),
  });
  for (const policy of ["cache-aware", "round-robin"] as const) {
    process.stderr.write(`${policy}…\n`);
    results.push(await runPolicy(model, policy));
  }
}
let overhead: Awaited<ReturnType<typeof gatewayOverhead>> | null = null;
if (args.only !== "routing") {
  process.stderr.write("gateway overhead (tiny model)…\n");
  overhead = await gatewayOverhead(ensureModel(BENCH_CACHE, "tiny", "q8_0"), Number(args["overhead-requests"]));
}

const cpu = os.cpus()[0]?.model ?? "unknown CPU";
const md = [
  `Fleet benchmark ${new Date().toISOString().slice(0, 10)}: ${CHATS} chats × ${TURNS} turns (max_tokens ${MAX_TOKENS}), ${shape} shape q8_0, two nodes (1 thread, ${Math.ceil(CHATS / 2)} slots each) behind one gateway on one machine (${cpu}, ${os.availableParallelism()} threads). Command: \`npm run bench:fleet -- --shape ${shape} --chats ${CHATS} --turns ${TURNS}\`.`,
  "",
  ...(results.length === 2 ? routingTable(results[0] as PolicyResult, results[1] as PolicyResult) : []),
  "",
  ...(overhead
    ? [
        `Gateway-added latency (tiny model, 1-token completions, ${overhead.n} each, interleaved): median ${overhead.gateway.toFixed(2)} ms through gateway → node vs ${overhead.direct.toFixed(2)} ms from a server running the model itself: **+${overhead.added.toFixed(2)} ms**.`,
        "",
      ]
    : []),
  'No request lost or billed twice under a node kill: `test/fleet/fleet.test.ts` ("a node killed mid-stream") checks it on every test run.',
].join("\n");
process.stdout.write(`${md}\n`);
if (args.only === undefined) {
  writeFileSync(
    "bench/results/fleet.json",
    JSON.stringify(
      { date: new Date().toISOString(), shape, chats: CHATS, turns: TURNS, maxTokens: MAX_TOKENS, results, overhead },
      null,
      2,
    ),
  );
  writeFileSync("bench/results/fleet.md", `${md}\n`);
  const readme = readFileSync("README.md", "utf8");
  const marked = /<!-- fleet:start -->[\s\S]*<!-- fleet:end -->/;
  if (marked.test(readme))
    writeFileSync("README.md", readme.replace(marked, `<!-- fleet:start -->\n${md}\n<!-- fleet:end -->`));
}
