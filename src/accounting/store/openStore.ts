import path from "node:path";
import type { AccountingStore } from "./AccountingStore.js";
import { PostgresStore } from "./PostgresStore.js";
import { SqliteStore } from "./SqliteStore.js";

/** `postgres://…` → PostgreSQL (shared by replicas); otherwise SQLite in the data directory. Migrated. */
export async function openStore(databaseUrl: string | undefined, dataDir: string): Promise<AccountingStore> {
  const store =
    databaseUrl && /^postgres(ql)?:\/\//.test(databaseUrl)
      ? new PostgresStore(databaseUrl)
      : new SqliteStore(
          databaseUrl && databaseUrl !== "sqlite"
            ? databaseUrl.replace(/^sqlite:/, "")
            : path.join(dataDir, "lunaris.db"),
        );
  await store.migrate();
  return store;
}
