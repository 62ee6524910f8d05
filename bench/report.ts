import type { OverheadResult } from "./overhead.js";
import type { ConcurrencyResult, ReturningResult } from "./workloads.js";

export interface ServerResult {
  /** Median over the rounds (each the best of up to three streams); every round's figure. */
  decodeTps: number;
  decodeRuns: number[];
  /** Median over the rounds that completed; every round's figure (0: failed). */
  promptTps: number;
  promptTokens: number;
  promptRuns: number[];
  concurrency: ConcurrencyResult[];
  returning: ReturningResult | null;
  turnTtftMs: number[];
  /** Per turn: the prompt's length, and how many of its tokens the server evaluated (the rest came from its cache). */
  turnPromptTokens: number[];
  turnReadTokens: number[];
  rssIdleMiB: number;
  rssLoadMiB: number;
  /** Streams cut short by a server-side error (their tokens until then still count). */
  streamErrors: number;
}

export interface BenchResult {
  date: string;
  machine: string;
  shape: string;
  quick: boolean;
  model: string;
  settings: { threads: number; slots: number; ctxPerSlot: number };
  workloads: Record<string, unknown>;
  lunaris: ServerResult | null;
  llamaServer: ServerResult | null;
  overhead: OverheadResult;
}

const f = (x: number | undefined, d = 1) => (x === undefined || Number.isNaN(x) ? "–" : x.toFixed(d));
/** A zero means that server's run failed (e.g. llama-server's stream errors): no ratio then. */
const ratio = (a: number | undefined, b: number | undefined, higherIsBetter = true) =>
  a === undefined || b === undefined
    ? "–"
    : a === 0 || b === 0
      ? "run failed"
      : `${(higherIsBetter ? a / b : b / a).toFixed(2)}×`;

const runs = (xs: readonly number[] | undefined) => (xs ? xs.map((x) => f(x)).join(", ") : "–");

export function toMarkdown(r: BenchResult): string {
  const us = r.lunaris;
  const them = r.llamaServer;
  const rows: string[][] = [
    [
      "single-stream decode (tok/s), median of rounds",
      f(us?.decodeTps),
      f(them?.decodeTps),
      ratio(us?.decodeTps, them?.decodeTps),
    ],
    ["  each round", runs(us?.decodeRuns), runs(them?.decodeRuns), ""],
    [
      `prompt processing, ${us?.promptTokens ?? "?"} tokens (tok/s), median`,
      f(us?.promptTps),
      f(them?.promptTps),
      ratio(us?.promptTps, them?.promptTps),
    ],
    ["  each round", runs(us?.promptRuns), runs(them?.promptRuns), ""],
  ];
  for (const c of us?.concurrency ?? []) {
    const o = them?.concurrency.find((x) => x.concurrency === c.concurrency);
    const rounds = c.aggregateRuns && c.aggregateRuns.length > 1 ? `, mean of ${c.aggregateRuns.length} rounds` : "";
    rows.push([
      `aggregate output, ${c.concurrency} concurrent (tok/s${rounds})`,
      f(c.aggregateTps),
      f(o?.aggregateTps),
      ratio(c.aggregateTps, o?.aggregateTps),
    ]);
    if (rounds) rows.push(["  each round", runs(c.aggregateRuns), runs(o?.aggregateRuns), ""]);
    rows.push([
      `  TTFT p50 / p90 (ms)`,
      `${f(c.ttftP50Ms, 0)} / ${f(c.ttftP90Ms, 0)}`,
      `${f(o?.ttftP50Ms, 0)} / ${f(o?.ttftP90Ms, 0)}`,
      "",
    ]);
    rows.push([`  inter-token latency (ms)`, f(c.itlMs, 0), f(o?.itlMs, 0), ratio(c.itlMs, o?.itlMs, false)]);
  }
  const turns = (s: ServerResult | null) => (s ? s.turnTtftMs.map((t) => f(t / 1000, 1)).join(", ") : "–");
  const turnRatio = (s: ServerResult | null) => (s ? f((s.turnTtftMs.at(-1) ?? 0) / (s.turnTtftMs[0] ?? 1), 2) : "–");
  rows.push(["multi-turn TTFT per turn (s)", turns(us), turns(them), ""]);
  rows.push(["  last turn / first turn", turnRatio(us), turnRatio(them), ""]);
  // Turns read slightly different numbers of new tokens (the replies differ): per token read,
  // the ratio is the growth that depth alone causes.
  const perToken = (s: ServerResult | null, i: number) =>
    (s?.turnTtftMs[i] ?? Number.NaN) / (s?.turnReadTokens[i] || Number.NaN);
  const perTokenRatio = (s: ServerResult | null) =>
    s && s.turnTtftMs.length > 0 ? f(perToken(s, s.turnTtftMs.length - 1) / perToken(s, 0), 2) : "–";
  rows.push(["  the same per prompt token evaluated", perTokenRatio(us), perTokenRatio(them), ""]);
  const read = (s: ServerResult | null) =>
    s?.turnReadTokens ? s.turnReadTokens.map((n, i) => `${n}/${s.turnPromptTokens[i]}`).join(", ") : "–";
  rows.push(["  prompt tokens evaluated / in the prompt", read(us), read(them), ""]);
  const back = (x: ReturningResult | null | undefined) =>
    x ? `${f(x.firstTtftMs / 1000)} → ${f(x.ttftMs / 1000)}` : "–";
  const backRead = (x: ReturningResult | null | undefined) => (x ? `${x.readTokens}/${x.promptTokens}` : "–");
  rows.push([
    "chat returning after its sequence was taken: TTFT turn 1 → turn 2 (s)",
    back(us?.returning),
    back(them?.returning),
    ratio(us?.returning?.ttftMs, them?.returning?.ttftMs, false),
  ]);
  rows.push([
    "  turn 2 prompt tokens evaluated / in the prompt",
    backRead(us?.returning),
    backRead(them?.returning),
    "",
  ]);
  rows.push([
    "streams ended by a server error",
    String(us?.streamErrors ?? "–"),
    String(them?.streamErrors ?? "–"),
    "",
  ]);
  rows.push([
    "RSS idle / under load (MiB)",
    `${us?.rssIdleMiB ?? "–"} / ${us?.rssLoadMiB ?? "–"}`,
    `${them?.rssIdleMiB ?? "–"} / ${them?.rssLoadMiB ?? "–"}`,
    "",
  ]);
  const o = r.overhead;
  return [
    `Benchmark ${r.date.slice(0, 10)}: ${r.model} (${r.shape} shape${r.quick ? ", quick" : ""}), ${r.machine}; ` +
      `${r.settings.slots} slots × ${r.settings.ctxPerSlot} tokens, same model file and threads for both servers, ` +
      "both running, taking turns workload by workload (chat: turn by turn), order flipped each time.",
    "",
    "| workload | Lunaris Server | llama-server | ours / theirs |",
    "|---|---|---|---|",
    ...rows.map((row) => `| ${row.join(" | ")} |`),
    "",
    `Server overhead on the tiny model (1-token completions, ${o.requests} requests each way, interleaved): median HTTP ` +
      `${f(o.httpMedianMs, 2)} ms vs engine ${f(o.engineMedianMs, 2)} ms → **${f(o.overheadMs, 2)} ms per request** ` +
      `(means ${f(o.httpMeanMs, 2)} vs ${f(o.engineMeanMs, 2)} ms)` +
      (o.floorOverheadMs === undefined
        ? ". "
        : `; a bare node:http handler around the same engine, timed alike: ${f(o.floorOverheadMs, 2)} ms. `) +
      `RSS over ${o.requests} more requests: ` +
      `${o.rssAfterWarmupMiB} → ${o.rssAfter500MiB} MiB (${f(o.rssChangePct, 1)}%).`,
    "",
  ].join("\n");
}
