import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DownloadError, downloadHfModel } from "../../src/model/download.js";
import { lunaris } from "../helpers/cliServer.js";

const FILE = randomBytes(3 * 1024 * 1024 + 123);
const SHA = createHash("sha256").update(FILE).digest("hex");
const REPO = "someone/L3-8B-Lunaris-v1-GGUF";
const NAME = "L3-8B-Lunaris-v1-Q4_K_M.gguf";

/** A stand-in for the Hugging Face hub: model info API, resolve URL → CDN redirect, Range requests. */
let server: Server;
let endpoint: string;
const seen: { path: string; range: string | undefined }[] = [];
let cutAfterBytes: number | null = null;
let etag = SHA;

before(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? "";
    seen.push({ path: url, range: req.headers.range });
    if (url === `/api/models/${REPO}`) {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          siblings: [{ rfilename: "README.md" }, { rfilename: NAME }, { rfilename: "L3-8B-Lunaris-v1-Q8_0.gguf" }],
        }),
      );
      return;
    }
    if (url === `/${REPO}/resolve/main/${NAME}`) {
      res.writeHead(302, {
        location: `/cdn/${NAME}`,
        "x-linked-etag": `"${etag}"`,
        "x-linked-size": String(FILE.length),
      });
      res.end();
      return;
    }
    if (url === `/cdn/${NAME}`) {
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      const start = m ? Number(m[1]) : 0;
      const body = FILE.subarray(start);
      res.writeHead(m ? 206 : 200, {
        "content-length": String(body.length),
        etag: `"${etag}"`,
        ...(m ? { "content-range": `bytes ${start}-${FILE.length - 1}/${FILE.length}` } : {}),
      });
      if (cutAfterBytes !== null) {
        // Send part of the body, then drop the connection: an interrupted download.
        res.write(body.subarray(0, cutAfterBytes), () => res.destroy());
        cutAfterBytes = null;
        return;
      }
      res.end(body);
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.close();
});

describe("Hugging Face download", () => {
  it("resumes an interrupted download with a Range request and checks size and sha256", async () => {
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), "lunaris-dl-"));
    cutAfterBytes = 1024 * 1024;
    await assert.rejects(
      downloadHfModel(`hf:${REPO}:Q4_K_M`, { cacheDir, endpoint }),
      (e: unknown) => e instanceof DownloadError && /run the same command again to resume/.test(e.message),
    );
    const part = path.join(cacheDir, "hf", REPO, `${NAME}.part`);
    assert.ok(existsSync(part));
    const partial = statSync(part).size;
    assert.ok(partial > 0 && partial < FILE.length, `partial size ${partial}`);
    seen.length = 0;
    const progress: number[] = [];
    const file = await downloadHfModel(`hf:${REPO}:Q4_K_M`, {
      cacheDir,
      endpoint,
      onProgress: (d) => progress.push(d),
    });
    assert.equal(file, path.join(cacheDir, "hf", REPO, NAME));
    assert.ok(readFileSync(file).equals(FILE));
    assert.equal(seen.find((s) => s.path.startsWith("/cdn/"))?.range, `bytes=${partial}-`);
    assert.ok((progress[0] ?? 0) > partial && progress.at(-1) === FILE.length);
    // Cached: a second call downloads nothing.
    seen.length = 0;
    assert.equal(await downloadHfModel(`hf:${REPO}:Q4_K_M`, { cacheDir, endpoint }), file);
    assert.ok(!seen.some((s) => s.path.startsWith("/cdn/")));
  });

  it("rejects a file whose sha256 does not match the hub's", async () => {
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), "lunaris-dl-"));
    etag = "0".repeat(64);
    try {
      await assert.rejects(downloadHfModel(`hf:${REPO}/${NAME}`, { cacheDir, endpoint }), /Checksum mismatch/);
    } finally {
      etag = SHA;
    }
  });

  it("fails fast with no network and says how to use a local file", async () => {
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), "lunaris-dl-"));
    const t = Date.now();
    await assert.rejects(
      downloadHfModel(`hf:${REPO}:Q4_K_M`, { cacheDir, endpoint: "http://127.0.0.1:9" }),
      /--model \/path\/to\/model\.gguf/,
    );
    assert.ok(Date.now() - t < 5000);
  });

  it("works from the CLI: lunaris pull prints the cached path", async () => {
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), "lunaris-dl-"));
    const out = await lunaris(["pull", `hf:${REPO}:Q4_K_M`, "--cache-dir", cacheDir], { HF_ENDPOINT: endpoint });
    assert.equal(out.trim(), path.join(cacheDir, "hf", REPO, NAME));
    const listed = await lunaris(["models", "--cache-dir", cacheDir]);
    assert.match(listed, new RegExp(`hf:${REPO}/${NAME}`));
  });
});
