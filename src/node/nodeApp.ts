import { timingSafeEqual } from "node:crypto";
import { type Context, Hono } from "hono";
import { stream } from "hono/streaming";
import type { Logger } from "pino";
import { routeNotFound, toApiError, unauthorized } from "../api/errors.js";
import { bearerToken } from "../api/middleware/auth.js";
import { clientAbortSignal } from "../api/middleware/clientAbort.js";
import { readJsonBody } from "../api/middleware/readJsonBody.js";
import { nodeResponse, requestHeader } from "../api/nodeHttp.js";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { EngineError, generationFailed } from "../engine/errors.js";
import {
  NDJSON,
  NODE_PATHS,
  type NodeInfo,
  decodeRequest,
  encodeEvent,
  errorLine,
} from "../engine/remote/nodeProtocol.js";
import type { Engine } from "../engine/types.js";

export interface NodeDeps {
  engine(): Engine | null;
  /** Bearer secret a gateway must send; null on a loopback node without one. */
  secret: string | null;
  requestTimeoutMs: number;
  log: Logger;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A Lunaris node's HTTP app (`lunaris serve --role engine`): the engine itself, for gateways.
 * No user keys, no ledger, no limits: the gateway in front does those once, for the fleet.
 */
export function createNodeApp(deps: NodeDeps): Hono {
  const app = new Hono();
  const engine = (): Engine => {
    const e = deps.engine();
    if (!e) throw new EngineError("engine_closed", "The node's model is still loading.", null, 1);
    return e;
  };

  app.get(NODE_PATHS.health, (c) => {
    const e = deps.engine();
    if (!e) return c.json({ status: "loading" }, 503);
    const s = e.stats();
    return c.json({
      status: "ok",
      queue_depth: s.queueDepth,
      active_sequences: s.activeSequences,
      sequences: s.totalSequences,
    });
  });

  app.use("/engine/*", async (c, next) => {
    if (deps.secret !== null) {
      const token = bearerToken(requestHeader(c, "authorization"));
      if (token === null || !sameSecret(token, deps.secret))
        throw unauthorized("This is an engine node: send the cluster secret as 'Authorization: Bearer <secret>'.");
    }
    await next();
  });

  app.get(NODE_PATHS.info, async (c) => {
    const e = engine();
    const info: NodeInfo = { model: e.model, modelInfo: (await e.modelInfo?.()) ?? null, stats: e.stats() };
    return c.json(info);
  });

  app.post(NODE_PATHS.tokenize, tokenizeHandler(engine));
  app.post(NODE_PATHS.detokenize, detokenizeHandler(engine));
  app.post(NODE_PATHS.generate, generateHandler(deps, engine));

  app.notFound((c) => {
    const e = routeNotFound(c.req.method, c.req.path);
    return c.json(e.toBody(), e.status);
  });
  app.onError((err, c) => {
    const e = toApiError(err);
    if (e.status >= 500 && e.code === "internal_error") deps.log.error({ err }, "unhandled error");
    for (const [k, v] of Object.entries(e.headers)) c.header(k, v);
    return c.json(e.toBody(), e.status);
  });
  return app;
}

function tokenizeHandler(engine: () => Engine) {
  return async (c: Context) => {
    const body = (await readJsonBody(c)) as { text?: unknown; special?: unknown; addBos?: unknown };
    if (typeof body.text !== "string")
      throw new EngineError("unsupported_parameter", "'text' must be a string.", "text");
    return c.json({ tokens: await engine().tokenize(body.text, body.special === true, body.addBos === true) });
  };
}

function detokenizeHandler(engine: () => Engine) {
  return async (c: Context) => {
    const tokens = ((await readJsonBody(c)) as { tokens?: unknown }).tokens;
    if (!Array.isArray(tokens) || !tokens.every((t) => Number.isInteger(t) && t >= 0)) {
      throw new EngineError("unsupported_parameter", "'tokens' must be an array of token ids.", "tokens");
    }
    return c.json({ text: await engine().detokenize(tokens as number[]) });
  };
}

/**
 * POST /engine/v1/generate: a GenerationRequest in, NDJSON events out. Errors before the first
 * event keep their status, so the gateway can tell a request's fault (4xx: answer it) from the
 * node's (5xx, 429: try another node); after it they are the stream's last line.
 */
function generateHandler(deps: NodeDeps, engine: () => Engine) {
  return async (c: Context) => {
    const request = decodeRequest(await readJsonBody(c));
    // The gateway closing the connection (its client left, or it gave up) frees the sequence.
    const signal = clientAbortSignal(c, deps.requestTimeoutMs);
    const generation = engine().generate({ ...request, signal });
    const events = generation[Symbol.asyncIterator]();
    const first = await events.next();
    const lines = async function* () {
      try {
        if (!first.done) yield encodeEvent(first.value);
        for (let r = await events.next(); !r.done; r = await events.next()) yield encodeEvent(r.value);
      } catch (e) {
        if (!signal.aborted) deps.log.error({ err: e }, "generation failed on this node");
        yield encodeEvent(errorLine(generationFailed(e)));
      }
    };
    const outgoing = nodeResponse(c);
    if (!outgoing) {
      c.header("content-type", NDJSON); // in-process requests (tests): hono's stream
      return stream(c, async (out) => {
        for await (const line of lines()) await out.write(line);
      });
    }
    // Straight onto Node's response: a web stream per request costs a gateway hop ~0.3 ms.
    outgoing.writeHead(200, { "content-type": NDJSON });
    for await (const line of lines()) {
      if (!outgoing.write(line) && !outgoing.destroyed)
        await new Promise((r) => outgoing.once("drain", r).once("close", r));
    }
    outgoing.end();
    return RESPONSE_ALREADY_SENT;
  };
}
