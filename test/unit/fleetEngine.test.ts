import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EngineError } from "../../src/engine/errors.js";
import { FleetEngine } from "../../src/engine/remote/FleetEngine.js";
import { decodeEvent, decodeRequest, encodeEvent, encodeRequest } from "../../src/engine/remote/nodeProtocol.js";
import {
  ALL_FEATURES,
  type Feature,
  type UpstreamClient,
  type UpstreamKind,
  UpstreamRefused,
} from "../../src/engine/remote/upstream.js";
import type { GenerationEvent, GenerationRequest } from "../../src/engine/types.js";

const request = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({
  model: "m",
  prompt: { type: "chat", messages: [{ role: "user", content: "hi" }] },
  maxTokens: 4,
  stopSequences: [],
  choices: 1,
  sampling: {
    temperature: 1,
    topP: 1,
    topK: 0,
    minP: 0,
    seed: 1,
    presencePenalty: 0,
    frequencyPenalty: 0,
    repetitionPenalty: 1,
  },
  ...over,
});

type Script = "ok" | "refuse" | "eject" | "die" | "bad-request";

/** An upstream that plays a script per request, counting what it was sent. */
function scripted(
  url: string,
  scripts: Script[],
  kind: UpstreamKind = "lunaris",
  features: ReadonlySet<Feature> = ALL_FEATURES,
) {
  const sent: GenerationRequest[] = [];
  const client: UpstreamClient = {
    config: { kind, url, weight: 1 },
    features,
    async probe() {
      return { model: {} };
    },
    async *generate(r) {
      sent.push(r);
      const s = scripts.shift() ?? "ok";
      if (s === "refuse") throw new UpstreamRefused(`${url}: 429`, false);
      if (s === "eject") throw new UpstreamRefused(`${url}: ECONNREFUSED`, true);
      if (s === "bad-request") throw new EngineError("context_length_exceeded", "too long", "messages");
      yield { type: "start", promptTokens: 3, cachedTokens: 0 };
      yield { type: "text", choice: 0, text: url, tokens: 1 };
      if (s === "die") throw new EngineError("upstream_failed", "gone");
      yield { type: "end", choice: 0, reason: "maxTokens", completionTokens: 1 };
    },
  };
  return { client, sent };
}

async function collect(it: AsyncIterable<GenerationEvent>): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

const fleet = (...clients: UpstreamClient[]) =>
  FleetEngine.start({ id: "m", aliases: [], clients, log: () => {}, healthIntervalMs: 60_000 });

describe("FleetEngine", () => {
  it("retries a request refused before its first byte on another upstream, ejecting a dead one", async () => {
    const a = scripted("http://a", ["eject"]);
    const b = scripted("http://b", []);
    const f = await fleet(a.client, b.client);
    const events = await Promise.all([collect(f.generate(request())), collect(f.generate(request()))]);
    for (const evs of events)
      assert.deepEqual(
        evs.map((e) => e.type),
        ["start", "text", "end"],
      );
    assert.equal(a.sent.length, 1);
    assert.equal(b.sent.length, 2);
    assert.deepEqual(
      f.upstreams().map((u) => u.healthy),
      [false, true],
    );
    await f.close();
  });

  it("never retries after the first event, and answers a request's own fault as it is", async () => {
    const a = scripted("http://a", ["die", "bad-request"]);
    const f = await fleet(a.client, scripted("http://b", ["bad-request"]).client);
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const ev of f.generate(request())) seen.push(ev.type);
      })(),
      (e: unknown) => e instanceof EngineError && e.code === "upstream_failed",
    );
    assert.deepEqual(seen, ["start", "text"]);
    assert.equal(a.sent.length, 1);
    await assert.rejects(
      collect(f.generate(request())),
      (e: unknown) => e instanceof EngineError && e.code === "context_length_exceeded",
    );
    await f.close();
  });

  it("gives up with 503 upstream_unavailable after the upstreams tried all refused", async () => {
    const f = await fleet(scripted("http://a", ["refuse"]).client, scripted("http://b", ["refuse"]).client);
    await assert.rejects(
      collect(f.generate(request())),
      (e: unknown) => e instanceof EngineError && e.code === "upstream_unavailable" && e.retryAfterS !== null,
    );
    await f.close();
  });

  it("routes by capability: full-fidelity upstreams first, an OpenAI one with the fields named, else a 400 naming the field", async () => {
    const dry = request({
      sampling: {
        ...request().sampling,
        dry: { multiplier: 0.8, base: 1.75, allowedLength: 2, lastN: undefined, sequenceBreakers: [] },
      },
    });
    const node = scripted("http://node", []);
    const openai = scripted("http://openai", [], "openai", new Set<Feature>(["logprobs"]));
    const both = await fleet(openai.client, node.client);
    for (let i = 0; i < 3; i++) await collect(both.generate(dry));
    assert.equal(node.sent.length, 3);
    await both.close();

    const only = await fleet(scripted("http://openai", [], "openai", new Set<Feature>()).client);
    const [start] = await collect(only.generate(dry));
    assert.deepEqual(start?.type === "start" && start.ignoredParams, ["dry_multiplier"]);
    await only.close();

    const llama = await fleet(scripted("http://llama", [], "llama-server", new Set<Feature>(["grammar"])).client);
    const auto = request({
      tools: { tools: [{ name: "f", parameters: {} }], choice: { type: "auto" }, parallel: true },
    });
    await assert.rejects(
      collect(llama.generate(auto)),
      (e: unknown) => e instanceof EngineError && e.code === "unsupported_parameter" && e.param === "tool_choice",
    );
    await llama.close();
  });
});

describe("the engine protocol's wire format", () => {
  it("carries a request and its events, banned tokens and -Infinity logprobs included", () => {
    const r = request({
      sampling: {
        ...request().sampling,
        logitBias: new Map([
          [5, Number.NEGATIVE_INFINITY],
          [7, 2.5],
        ]),
      },
    });
    const back = decodeRequest(JSON.parse(encodeRequest(r)));
    assert.deepEqual(
      [...(back.sampling.logitBias ?? [])],
      [
        [5, Number.NEGATIVE_INFINITY],
        [7, 2.5],
      ],
    );
    assert.deepEqual(back.prompt, r.prompt);
    const ev: GenerationEvent = {
      type: "text",
      choice: 0,
      text: "-Infinity",
      tokens: 3,
      logprobs: [{ token: 1, text: "a", bytes: [97], logprob: Number.NEGATIVE_INFINITY, top: [] }],
    };
    assert.deepEqual(decodeEvent(encodeEvent(ev)), ev);
  });

  it("refuses a malformed request with the field named", () => {
    assert.throws(
      () => decodeRequest({ ...JSON.parse(encodeRequest(request())), choices: 0 }),
      (e: unknown) => e instanceof EngineError && e.param === "choices",
    );
  });
});
