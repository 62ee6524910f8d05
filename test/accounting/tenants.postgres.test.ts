import { describe, it } from "node:test";
import { postgresServerUrl } from "../helpers/databases.js";
import { tenantSuite } from "./tenants.suite.js";

if (postgresServerUrl()) {
  tenantSuite("postgres");
} else {
  describe("tenants on postgres", () => {
    it("needs PostgreSQL: set LUNARIS_TEST_DATABASE_URL or run as root so scripts/start-postgres.sh can install it", {
      skip: true,
    });
  });
}
