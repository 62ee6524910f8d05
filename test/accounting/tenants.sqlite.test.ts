import { tenantSuite } from "./tenants.suite.js";

tenantSuite("sqlite");
