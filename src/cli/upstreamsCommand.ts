import type { Command } from "commander";
import { printTable } from "./table.js";

interface UpstreamObject {
  url: string;
  kind: string;
  weight: number;
  healthy: boolean;
  in_flight: number;
  queue_depth: number | null;
  requests: number;
  errors: number;
  prefix_hits: number;
  last_error: string | null;
}

/** `lunaris upstreams`: a running gateway's engines, their health and load (GET /v1/admin/upstreams). */
export function registerUpstreams(program: Command): void {
  program
    .command("upstreams")
    .description("Show a running gateway's upstream engines: health, load, requests, prefix hits")
    .option("--url <url>", "the gateway's base URL", process.env.LUNARIS_URL ?? "http://127.0.0.1:8080")
    .option("--admin-key <key>", "an admin key of the gateway (also LUNARIS_ADMIN_KEY)", process.env.LUNARIS_ADMIN_KEY)
    .option("--json", "print JSON", false)
    .action(async (o: { url: string; adminKey?: string; json: boolean }) => {
      const res = await fetch(`${o.url.replace(/\/+$/, "")}/v1/admin/upstreams`, {
        headers: o.adminKey ? { authorization: `Bearer ${o.adminKey}` } : {},
      });
      const body = (await res.json()) as { data?: UpstreamObject[]; error?: { message: string } };
      if (!res.ok || !body.data) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(body.data)}\n`);
        return;
      }
      const rows = body.data.map((u) => [
        u.url,
        u.kind,
        String(u.weight),
        u.healthy ? "up" : "EJECTED",
        String(u.in_flight),
        u.queue_depth === null ? "-" : String(u.queue_depth),
        String(u.requests),
        String(u.errors),
        String(u.prefix_hits),
        u.healthy ? "" : (u.last_error ?? ""),
      ]);
      printTable(
        ["URL", "KIND", "WEIGHT", "HEALTH", "IN FLIGHT", "QUEUED", "REQUESTS", "ERRORS", "PREFIX HITS", "LAST ERROR"],
        rows,
      );
    });
}
