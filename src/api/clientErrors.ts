import type { Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { Metrics } from "../observability/metrics.js";
import { malformedHttp } from "./errors.js";

/**
 * Keep-alive sockets stay open longer than the clients that reuse them (node-fetch 2 keeps idle
 * sockets without a limit; undici 4 s): with Node's 5 s default, a request sent on a socket the
 * server was just closing is lost (a reset the client reports as its own error). Proxies use
 * 60 s and more.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/**
 * Requests Node's HTTP parser refuses never reach the app, so they would leave no trace: each
 * gets one warning (the parser's code, never the bytes) and a metric, and the client an
 * OpenAI-shaped 400 instead of Node's bare "400 Bad Request".
 */
export function handleClientErrors(server: Server, log: Logger, metrics: Metrics): void {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    const code = err.code ?? "UNKNOWN";
    // A client that went away mid-request is not a malformed request.
    if (code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    metrics.observeRequest("unparsed", 400);
    log.warn({ code, reason: err.message.split(":")[0] }, "request refused by the HTTP parser");
    const body = JSON.stringify(malformedHttp(code).toBody());
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
