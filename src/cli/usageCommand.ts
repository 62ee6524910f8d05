import type { Command } from "commander";
import { picoToUsdString } from "../accounting/pricing.js";
import { storeOptions, withAccounting } from "./keysCommand.js";
import { printTable } from "./table.js";

export function registerUsage(program: Command): void {
  storeOptions(program.command("usage").description("Usage and cost by day and model, from the ledger"))
    .option("--key <id>", "one key only")
    .option("--since <YYYY-MM-DD>", "from this UTC day")
    .option("--json", "print JSON", false)
    .action(async (o: { database?: string; dataDir: string; key?: string; since?: string; json: boolean }) => {
      const since = o.since ? Date.parse(`${o.since}T00:00:00Z`) : undefined;
      if (since !== undefined && Number.isNaN(since)) throw new Error("--since takes a date as YYYY-MM-DD");
      const rows = await withAccounting(o, (a) => a.usage({ keyId: o.key, since }));
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify(rows, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}\n`,
        );
        return;
      }
      const head = ["DATE", "KEY", "MODEL", "REQUESTS", "PROMPT", "CACHED", "COMPLETION", "COST USD"];
      const body = rows.map((r) => [
        r.date,
        r.keyId ?? "-",
        r.model,
        String(r.requests),
        String(r.promptTokens),
        String(r.cachedTokens),
        String(r.completionTokens),
        picoToUsdString(r.costPico),
      ]);
      const total = rows.reduce((a, r) => a + r.costPico, 0n);
      printTable(head, body);
      process.stdout.write(
        `\ntotal: $${picoToUsdString(total)} over ${rows.reduce((a, r) => a + r.requests, 0)} requests\n`,
      );
    });
}
