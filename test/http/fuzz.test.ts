import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { EngineError } from "../../src/engine/errors.js";
import type { GenerationRequest, OutputFormat, SamplingOptions, ToolsRequest } from "../../src/engine/types.js";
import { bodyArb, bounded, sendAndCheck } from "../fuzz/bodies.js";
import { MODEL_ID, type TestServer, startTestServer } from "../helpers/testServer.js";

/**
 * The hostile-client campaign, bounded for CI (npm run soak runs ≥ 10,000 bodies): bodies
 * generated from the request schema and mutated, through the real server on the tiny model.
 * No 5xx, every error in OpenAI's shape, and the server alive and idle afterwards.
 */
const KEY = "sk-fuzz";
const BODIES = Number(process.env.LUNARIS_FUZZ_BODIES ?? 1000);

let srv: TestServer;
before(async () => {
  srv = await startTestServer({ apiKeys: [KEY], ctxSize: 1024 });
});
after(async () => {
  await srv.close();
});

describe("hostile bodies through the real server", () => {
  it(`answers ${BODIES} generated and mutated bodies without a 5xx, each error OpenAI-shaped`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(bodyArb, async (body) => {
        const outcome = await sendAndCheck(srv.url, KEY, bounded(body));
        statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
        assert.equal(outcome.problem, null, `${outcome.problem}\nbody: ${JSON.stringify(body).slice(0, 2000)}`);
      }),
      { numRuns: BODIES, seed: Number(process.env.LUNARIS_FUZZ_SEED ?? 20261205), endOnFailure: true },
    );
    // The campaign must reach the engine, not only the validator.
    assert.ok((statuses.get(200) ?? 0) > BODIES / 10, `statuses: ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(400) ?? 0) > BODIES / 10, `statuses: ${JSON.stringify([...statuses])}`);
    for (let i = 0; i < 50 && (srv.engine()?.stats().activeSequences ?? 1) > 0; i++) await sleep(20);
    assert.deepEqual(
      { ...srv.engine()?.stats(), storedPrefixes: 0, storedPrefixBytes: 0 },
      { queueDepth: 0, activeSequences: 0, totalSequences: 4, storedPrefixes: 0, storedPrefixBytes: 0 },
    );
    assert.equal((await fetch(`${srv.url}/health`)).status, 200);
  });
});

describe("sampler chains under every grammar kind (engine)", () => {
  const samplingArb: fc.Arbitrary<SamplingOptions> = fc.record({
    temperature: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 2, noNaN: true })),
    topP: fc.double({ min: 0.01, max: 1, noNaN: true }),
    topK: fc.integer({ min: 0, max: 999 }),
    minP: fc.double({ min: 0, max: 1, noNaN: true }),
    seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    presencePenalty: fc.double({ min: -2, max: 2, noNaN: true }),
    frequencyPenalty: fc.double({ min: -2, max: 2, noNaN: true }),
    repetitionPenalty: fc.double({ min: 0.01, max: 5, noNaN: true }),
    xtc: fc.option(
      fc.record({
        probability: fc.double({ min: 0, max: 1, noNaN: true }),
        threshold: fc.double({ min: 0, max: 1, noNaN: true }),
      }),
      { nil: undefined },
    ),
    dry: fc.option(
      fc.record({
        multiplier: fc.double({ min: 0, max: 100, noNaN: true }),
        base: fc.double({ min: 1, max: 10, noNaN: true }),
        allowedLength: fc.integer({ min: 0, max: 10 }),
        lastN: fc.option(fc.integer({ min: 0, max: 500_000_000 }), { nil: undefined }),
        sequenceBreakers: fc.array(fc.string({ maxLength: 4 }), { maxLength: 4 }),
      }),
      { nil: undefined },
    ),
    logitBias: fc.option(
      fc
        .array(
          fc.tuple(
            fc.integer({ min: 0, max: 128_255 }),
            fc.oneof(fc.double({ min: -100, max: 100, noNaN: true }), fc.constant(Number.NEGATIVE_INFINITY)),
          ),
          { maxLength: 20 },
        )
        .map((e) => new Map(e)),
      { nil: undefined },
    ),
  });
  const schema = {
    type: "object",
    properties: { name: { type: "string", maxLength: 12 }, n: { type: "integer", minimum: 0, maximum: 99 } },
    required: ["name"],
  };
  const tools: ToolsRequest = {
    tools: [
      { name: "f", parameters: schema },
      { name: "g", parameters: undefined },
    ],
    choice: { type: "required" },
    parallel: true,
  };
  const formats: { format?: OutputFormat; tools?: ToolsRequest }[] = [
    {},
    { format: { type: "jsonObject" } },
    { format: { type: "jsonSchema", schema } },
    { tools },
    { tools: { ...tools, choice: { type: "auto" } } },
    { tools: { ...tools, choice: { type: "function", name: "f" } } },
  ];

  it("never throws out of a generation: it completes, or ends with the engine's own error", async () => {
    const engine = srv.engine();
    assert.ok(engine);
    await fc.assert(
      fc.asyncProperty(
        samplingArb,
        fc.constantFrom(...formats),
        fc.integer({ min: 1, max: 2 }),
        async (sampling, output, choices) => {
          const request: GenerationRequest = {
            model: MODEL_ID,
            prompt: { type: "chat", messages: [{ role: "user", content: "Give me a name" }] },
            maxTokens: 12,
            stopSequences: [],
            choices,
            sampling,
            ...output,
          };
          try {
            let ends = 0;
            for await (const ev of engine.generate(request)) if (ev.type === "end") ends++;
            assert.equal(ends, choices);
          } catch (e) {
            assert.ok(e instanceof EngineError, `not an engine error: ${String(e)}`);
            // Only bans can leave a grammar without a token; nothing else may fail.
            const banned = [...(sampling.logitBias ?? new Map()).values()].some((v) => v === Number.NEGATIVE_INFINITY);
            assert.ok(
              e.code === "grammar_unsatisfiable" && banned && (output.format || output.tools),
              `${e.code}: ${e.message}`,
            );
          }
        },
      ),
      { numRuns: Number(process.env.LUNARIS_FUZZ_ENGINE_RUNS ?? 100), seed: 20261205, endOnFailure: true },
    );
    assert.equal((await fetch(`${srv.url}/health`)).status, 200);
  });
});
