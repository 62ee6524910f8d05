import { EngineError } from "./errors.js";
import { UnsupportedSchema, jsonObjectGbnf, jsonSchemaToGbnf } from "./grammar/jsonSchemaToGbnf.js";
import { toolCallGrammar } from "./tools/llama3ToolFormat.js";
import type { GenerationRequest } from "./types.js";

/**
 * The GBNF a request's output must follow (tool calls, any JSON object, or a JSON schema), or
 * null for free text. A schema no grammar can enforce is an `unsupported_schema` error naming
 * its place (`format.schema`, `tools[i].parameters`). Shared by every engine that runs our
 * grammars: the in-process one and the gateway's llama-server kind.
 */
export function outputGrammar(request: GenerationRequest): string | null {
  const { tools, format } = request;
  try {
    if (tools) return toolCallGrammar(tools);
    if (format?.type === "jsonObject") return jsonObjectGbnf();
    if (format?.type === "jsonSchema") return jsonSchemaToGbnf(format.schema);
    return null;
  } catch (e) {
    if (!(e instanceof UnsupportedSchema)) throw e;
    const tool = /^#\/tools\/(\d+)\/parameters/.exec(e.pointer);
    throw new EngineError(
      "unsupported_schema",
      e.message,
      tools ? (tool ? `tools[${tool[1]}].parameters` : "tools") : "format.schema",
    );
  }
}
