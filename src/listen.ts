import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";

/** Serves a fetch handler on host:port (0: any free port); resolves once listening, with the URL to reach it. */
export async function listen(
  fetch: (req: Request) => Response | Promise<Response>,
  host: string,
  port: number,
): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch, hostname: host, port }, () => resolve(s as Server));
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return { server, url: `http://${shown}:${addr.port}` };
}

/**
 * Stops serving: no new connections (open requests finish), then the engine once it has opened
 * (or failed to). Shared by the API server and the engine node.
 */
export async function stopServing(
  server: Server,
  ready: Promise<void>,
  engine: () => { close(): Promise<void> } | null,
): Promise<void> {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await ready.catch(() => undefined);
  await engine()?.close();
}
