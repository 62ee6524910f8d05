import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { hasNvidiaGpu, missingCudaLibraries } from "../../src/engine/llama/cudaCheck.js";
import { tinyModelPath } from "../helpers/testModel.js";

describe("CUDA diagnosis", () => {
  it("names nothing when the driver, runtime and cuBLAS are on the library path", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "fake-cuda-"));
    for (const f of ["libcuda.so.1", "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13"])
      writeFileSync(path.join(dir, f), "");
    const saved = process.env.LD_LIBRARY_PATH;
    process.env.LD_LIBRARY_PATH = dir;
    try {
      assert.deepEqual(missingCudaLibraries(), []);
    } finally {
      process.env.LD_LIBRARY_PATH = saved;
    }
  });

  it(
    "`serve --gpu cuda` without CUDA stops and says what is missing and how to get it",
    { skip: hasNvidiaGpu() },
    async () => {
      const run = promisify(execFile);
      const err = await run(
        process.execPath,
        ["bin/lunaris.js", "serve", "--model", tinyModelPath(), "--port", "0", "--gpu", "cuda"],
        {
          timeout: 60_000,
        },
      ).then(
        () => null,
        (e: { code?: number; stderr?: string }) => e,
      );
      assert.ok(err, "the server must not start");
      assert.notEqual(err.code, 0);
      assert.match(err.stderr ?? "", /--gpu cuda: node-llama-cpp could not load its CUDA build/);
      assert.match(err.stderr ?? "", /NVIDIA driver \(libcuda\.so\.1\): install the NVIDIA driver/);
    },
  );
});
