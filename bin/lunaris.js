#!/usr/bin/env node
// Runs the TypeScript sources through tsx's loader: no build step between a clone and a server.
import os from "node:os";
import process from "node:process";
import { register } from "tsx/esm/api";

// node-llama-cpp samples each sequence's next token in a libuv pool job; the pool has 4 threads
// by default, which serializes sampling for 16–64 GPU streams. Sized before its first use.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, os.availableParallelism()));

register();
await import("../src/cli/main.ts");
