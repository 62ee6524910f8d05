import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { after, before, describe, it } from "node:test";
import { defaultThreads, type LlamaEngine } from "../../src/engine/llama/LlamaEngine.js";
import { loadTinyEngine } from "../helpers/tinyEngine.js";

/** Physical cores as Linux lists them: one thread_siblings mask per core. Null where sysfs has none. */
function physicalCores(): number | null {
  try {
    const cpus = readdirSync("/sys/devices/system/cpu").filter((d) => /^cpu\d+$/.test(d));
    const masks = new Set(
      cpus.map((c) => readFileSync(`/sys/devices/system/cpu/${c}/topology/thread_siblings`, "utf8").trim()),
    );
    return masks.size > 0 ? masks.size : null;
  } catch {
    return null;
  }
}

describe("default CPU threads", () => {
  it("takes the math cores, within what the process may run on, at least one", () => {
    assert.equal(defaultThreads(8, 16), 8); // 8 cores with hyperthreads: one thread per core
    assert.equal(defaultThreads(8, 4), 4); // a CPU-limited container
    assert.equal(defaultThreads(2, 2), 2);
    assert.equal(defaultThreads(0, 2), 1);
  });

  describe("a real engine loaded without --threads", () => {
    let engine: LlamaEngine;
    before(async () => {
      engine = await loadTinyEngine();
    });
    after(async () => {
      await engine.close();
    });

    it("decodes on one thread per physical core, never on hyperthread siblings", () => {
      // White box: the math cores as the engine's own node-llama-cpp instance counted them.
      const mathCores = (engine as unknown as { llama: { cpuMathCores: number } }).llama.cpuMathCores;
      assert.equal(engine.threads, defaultThreads(mathCores));
      const cores = physicalCores();
      assert.ok(engine.threads >= 1);
      assert.ok(engine.threads <= os.availableParallelism());
      if (cores !== null) assert.ok(engine.threads <= cores, `${engine.threads} threads on ${cores} physical cores`);
    });
  });
});
