import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";

/** Where a test's ledger lives: `database` is undefined for SQLite (in dataDir) or a postgres:// URL. */
export interface TestDatabase {
  kind: "sqlite" | "postgres";
  database: string | undefined;
  dataDir: string;
}

let serverUrl: string | null | undefined;

/**
 * The PostgreSQL server for tests: LUNARIS_TEST_DATABASE_URL, or one started by
 * scripts/start-postgres.sh (Debian's package, installed when missing). null when neither works.
 */
export function postgresServerUrl(): string | null {
  if (serverUrl !== undefined) return serverUrl;
  serverUrl = process.env.LUNARIS_TEST_DATABASE_URL ?? null;
  if (!serverUrl) {
    try {
      serverUrl = execFileSync("bash", ["scripts/start-postgres.sh"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    } catch {
      serverUrl = null;
    }
  }
  return serverUrl;
}

/** A fresh, empty database of the given kind. */
export async function freshDatabase(kind: "sqlite" | "postgres"): Promise<TestDatabase> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "lunaris-db-"));
  if (kind === "sqlite") return { kind, database: undefined, dataDir };
  const url = postgresServerUrl();
  if (!url) throw new Error("no PostgreSQL server for tests");
  const name = `lunaris_test_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return { kind, database: u.toString(), dataDir };
}

export const STORE_KINDS = ["sqlite", "postgres"] as const;
