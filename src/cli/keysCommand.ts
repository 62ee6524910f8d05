import type { Command } from "commander";
import { Accounting } from "../accounting/Accounting.js";
import { openStore } from "../accounting/store/openStore.js";
import type { KeyLimits, KeyRecord } from "../accounting/types.js";
import { defaultDataDir } from "../config/paths.js";

interface StoreOpts {
  database?: string;
  dataDir: string;
}

export async function withAccounting<T>(o: StoreOpts, fn: (a: Accounting) => Promise<T>): Promise<T> {
  const a = new Accounting(await openStore(o.database, o.dataDir));
  try {
    return await fn(a);
  } finally {
    await a.close();
  }
}

export function storeOptions(cmd: Command): Command {
  return cmd
    .option(
      "--database <url>",
      "postgres://… (also LUNARIS_DATABASE_URL); default SQLite in --data-dir",
      process.env.LUNARIS_DATABASE_URL,
    )
    .option("--data-dir <dir>", "where the SQLite ledger lives", defaultDataDir());
}

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive whole number, got '${v}'`);
  return n;
};
const usd = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`expected an amount in USD, got '${v}'`);
  return n;
};

function limitOptions(cmd: Command): Command {
  return cmd
    .option("--rpm <n>", "requests per minute", int)
    .option("--tpm <n>", "tokens per minute", int)
    .option("--max-concurrent <n>", "concurrent requests", int)
    .option("--monthly-budget-usd <usd>", "monthly spend limit in USD", usd);
}

function toLimits(o: {
  rpm?: number;
  tpm?: number;
  maxConcurrent?: number;
  monthlyBudgetUsd?: number;
}): Partial<KeyLimits> {
  const l: Partial<KeyLimits> = {};
  if (o.rpm !== undefined) l.rpm = o.rpm;
  if (o.tpm !== undefined) l.tpm = o.tpm;
  if (o.maxConcurrent !== undefined) l.maxConcurrent = o.maxConcurrent;
  if (o.monthlyBudgetUsd !== undefined) l.monthlyBudgetMicros = Math.round(o.monthlyBudgetUsd * 1e6);
  return l;
}

const fmt = (v: number | null) => (v === null ? "-" : String(v));

function printKeys(keys: readonly KeyRecord[]): void {
  const rows = keys.map((k) => [
    k.id,
    k.name,
    `${k.prefix}…`,
    k.isAdmin ? "admin" : "",
    fmt(k.rpm),
    fmt(k.tpm),
    fmt(k.maxConcurrent),
    k.monthlyBudgetMicros === null ? "-" : `$${(k.monthlyBudgetMicros / 1e6).toFixed(2)}`,
    k.revokedAt === null ? "active" : "revoked",
  ]);
  const head = ["ID", "NAME", "PREFIX", "ROLE", "RPM", "TPM", "CONC", "BUDGET/MO", "STATUS"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  for (const r of [head, ...rows]) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ")}\n`);
}

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("Manage API keys (stored hashed; the secret is shown once)");

  limitOptions(storeOptions(keys.command("create").description("Create a key and print its secret once")))
    .requiredOption("--name <name>", "who or what the key is for")
    .option("--admin", "may manage keys and read all usage over HTTP", false)
    .option("--json", "print JSON", false)
    .action(async (o: StoreOpts & { name: string; admin: boolean; json: boolean } & Parameters<typeof toLimits>[0]) => {
      const { key, secret } = await withAccounting(o, (a) =>
        a.createKey({ name: o.name, isAdmin: o.admin, ...toLimits(o) }),
      );
      if (o.json) process.stdout.write(`${JSON.stringify({ id: key.id, secret })}\n`);
      else process.stdout.write(`Created ${key.id} (${key.name}). Secret, shown only now:\n\n  ${secret}\n\n`);
    });

  storeOptions(keys.command("list").description("List keys"))
    .option("--json", "print JSON", false)
    .action(async (o: StoreOpts & { json: boolean }) => {
      const list = await withAccounting(o, (a) => a.listKeys());
      if (o.json) process.stdout.write(`${JSON.stringify(list.map(({ hash: _h, ...k }) => k))}\n`);
      else printKeys(list);
    });

  storeOptions(keys.command("revoke <id>").description("Revoke a key: it gets 401 from then on")).action(
    async (id: string, o: StoreOpts) => {
      const ok = await withAccounting(o, (a) => a.revokeKey(id));
      if (!ok) throw new Error(`no active key with id '${id}' (see: lunaris keys list)`);
      process.stdout.write(`Revoked ${id}.\n`);
    },
  );

  limitOptions(storeOptions(keys.command("update <id>").description("Change a key's name or limits")))
    .option("--name <name>", "new name")
    .option("--unlimited <limit...>", "remove limits: rpm tpm max-concurrent monthly-budget-usd")
    .action(
      async (id: string, o: StoreOpts & { name?: string; unlimited?: string[] } & Parameters<typeof toLimits>[0]) => {
        const patch: Partial<KeyLimits> & { name?: string } = toLimits(o);
        if (o.name !== undefined) patch.name = o.name;
        const names: Record<string, keyof KeyLimits> = {
          rpm: "rpm",
          tpm: "tpm",
          "max-concurrent": "maxConcurrent",
          "monthly-budget-usd": "monthlyBudgetMicros",
        };
        for (const u of o.unlimited ?? []) {
          const field = names[u];
          if (!field) throw new Error(`--unlimited takes: ${Object.keys(names).join(", ")}`);
          patch[field] = null;
        }
        const key = await withAccounting(o, (a) => a.updateKey(id, patch));
        if (!key) throw new Error(`no key with id '${id}' (see: lunaris keys list)`);
        printKeys([key]);
      },
    );
}
