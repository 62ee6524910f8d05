import type { OutputFormat, ToolsRequest } from "../../engine/types.js";
import { invalidRequest } from "../errors.js";
import type { ChatCompletionRequest } from "../protocol/chatCompletionRequest.js";

/**
 * tools + tool_choice + parallel_tool_calls → the engine's ToolsRequest, or undefined when no
 * tool may be called (no tools, or tool_choice "none": the tools are then left out of the prompt).
 * A parameter schema the engine cannot enforce is its `unsupported_schema` error, a 400.
 */
export function toToolsRequest(r: ChatCompletionRequest): ToolsRequest | undefined {
  const tools = r.tools ?? [];
  const choice = r.tool_choice ?? (tools.length > 0 ? "auto" : "none");
  if (tools.length === 0) {
    if (choice !== "none") throw invalidRequest("'tool_choice' needs 'tools'.", "tool_choice");
    return undefined;
  }
  if (choice === "none") return undefined;
  const names = new Set<string>();
  tools.forEach((t, i) => {
    if (names.has(t.function.name))
      throw invalidRequest(`The tool name '${t.function.name}' is used twice.`, `tools[${i}].function.name`);
    names.add(t.function.name);
  });
  if (typeof choice === "object" && !names.has(choice.function.name)) {
    throw invalidRequest(
      `tool_choice names '${choice.function.name}', which is not among the tools.`,
      "tool_choice.function.name",
    );
  }
  const req: ToolsRequest = {
    tools: tools.map((t) => ({
      name: t.function.name,
      description: t.function.description,
      parameters: t.function.parameters,
    })),
    choice: typeof choice === "object" ? { type: "function", name: choice.function.name } : { type: choice },
    parallel: r.parallel_tool_calls !== false,
  };
  return req;
}

/** response_format → the engine's OutputFormat (a schema it cannot enforce is its 400). */
export function toOutputFormat(r: ChatCompletionRequest, tools: ToolsRequest | undefined): OutputFormat | undefined {
  const rf = r.response_format;
  if (!rf || rf.type === "text") return undefined;
  if (tools?.choice.type === "auto") {
    throw invalidRequest(
      "response_format cannot be combined with tools when tool_choice is 'auto' on this server: use tool_choice 'required' or a named tool, or drop one of the two.",
      "response_format",
      "unsupported_combination",
    );
  }
  if (rf.type === "json_object") return { type: "jsonObject" };
  const schema = rf.json_schema.schema;
  if (schema === undefined) return { type: "jsonObject" };
  return { type: "jsonSchema", schema };
}
