import { schemaRules } from "../grammar/jsonSchemaToGbnf.js";
import { literal, memoGrammar } from "../grammar/gbnf.js";
import type { ChatMessage, ToolCall, ToolsRequest, ToolSpec } from "../types.js";

/**
 * The tool-call format for Llama 3 models: Meta's JSON function calling from the Llama 3.1
 * model card. The functions are listed as JSON in the system prompt and a call is a bare
 * JSON object, `{"name": "get_weather", "parameters": {"city": "Paris"}}`, one per line for
 * parallel calls; results come back in `ipython` turns.
 *
 * Why this one: Llama 3.0 (Lunaris's base) has no tool format of its own, and plain JSON is
 * what Llama 3 8B models already write best; it is the format Llama 3.1/3.2 were trained on
 * and that vLLM's `llama3_json` parser reads, so a prompt written for those works here. No
 * new special tokens, and the grammar can force the whole call when a call is required.
 */

/** At most this many calls in one reply. */
export const MAX_PARALLEL_CALLS = 16;

const EMPTY_PARAMETERS = { type: "object", properties: {}, additionalProperties: false };

function parametersOf(tool: ToolSpec): unknown {
  return tool.parameters ?? EMPTY_PARAMETERS;
}

/** The system-prompt section that teaches the format and lists the tools. */
export function toolInstructions(req: ToolsRequest): string {
  const lines = [
    "You have access to the functions below. To call a function, reply with only a JSON object of the form " +
      '{"name": function name, "parameters": object of argument names and values} and nothing else.',
    req.parallel && req.choice.type !== "function"
      ? "To call several functions at once, write one such JSON object per line."
      : "Call at most one function per reply.",
    req.choice.type === "auto"
      ? "Only call a function when it helps; otherwise answer normally in plain text."
      : "You must call a function now.",
    "Function results come back in ipython messages.",
    "",
    ...req.tools.map((t) =>
      JSON.stringify({
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        parameters: parametersOf(t),
      }),
    ),
  ];
  return lines.join("\n");
}

/** Puts the tool section at the end of the first system message, or in a new one. */
export function withToolInstructions(messages: readonly ChatMessage[], req: ToolsRequest): ChatMessage[] {
  const section = toolInstructions(req);
  const [first, ...rest] = messages;
  if (first?.role === "system") return [{ ...first, content: `${first.content.trim()}\n\n${section}` }, ...rest];
  return [{ role: "system", content: section }, ...messages];
}

/** Calls from history, written exactly as the model is asked to write them. */
export function toolCallsText(calls: readonly ToolCall[]): string {
  return calls
    .map((c) => `{"name": ${JSON.stringify(c.name)}, "parameters": ${c.arguments.trim() || "{}"}}`)
    .join("\n");
}

/**
 * GBNF for one reply of calls to `tools` (or only `only`): the call objects, with the
 * arguments constrained by each tool's JSON Schema, so they always parse and validate.
 */
export function toolCallGrammar(req: ToolsRequest): string {
  return memoGrammar({ tools: req }, () => buildToolCallGrammar(req));
}

function buildToolCallGrammar(req: ToolsRequest): string {
  const { rules, add } = schemaRules();
  const tools =
    req.choice.type === "function"
      ? req.tools.filter((t) => t.name === (req.choice as { name: string }).name)
      : req.tools;
  const ws = rules.add("ws", `| " " | "\\n" [ \\t]{0,20}`);
  const calls = tools.map((t, i) => {
    const params = add(parametersOf(t), `#/tools/${i}/parameters`, `${t.name}-parameters`);
    const body = `"{" ${ws} "\\"name\\"" ":" ${ws} ${literal(JSON.stringify(t.name))} "," ${ws} "\\"parameters\\"" ":" ${ws} ${params} ${ws} "}"`;
    return rules.add(`call-${t.name}`, body);
  });
  const call = rules.add("call", calls.join(" | "));
  // A named tool_choice means one call of that function (as OpenAI and vLLM do it); otherwise
  // up to MAX_PARALLEL_CALLS unless parallel calls are off.
  const parallel = req.parallel && req.choice.type !== "function";
  rules.define("root", parallel ? `${call} ("\\n" ${call}){0,${MAX_PARALLEL_CALLS - 1}}` : call);
  return rules.toString();
}
