import { Command } from "commander";
import { registerChat } from "./chatCommand.js";
import { registerKeys } from "./keysCommand.js";
import { registerMakeModel } from "./makeModelCommand.js";
import { registerModels } from "./modelsCommand.js";
import { registerPull } from "./pullCommand.js";
import { registerServe } from "./serveCommand.js";
import { registerUpstreams } from "./upstreamsCommand.js";
import { registerUsage } from "./usageCommand.js";

const program = new Command()
  .name("lunaris")
  .description("Lunaris Server: a self-hosted, OpenAI-compatible API for Sao10K/L3-8B-Lunaris-v1")
  .showHelpAfterError();

registerServe(program);
registerMakeModel(program);
registerPull(program);
registerModels(program);
registerChat(program);
registerKeys(program);
registerUsage(program);
registerUpstreams(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`lunaris: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
