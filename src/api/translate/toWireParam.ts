import { EngineError } from "../../engine/errors.js";

/** An engine parameter name (`format.schema`, `tools[2].parameters`) → the wire field it came from. */
export type ParamNames = readonly [RegExp, string][];

export const CHAT_SCHEMA_PARAMS: ParamNames = [
  [/^format\.schema$/, "response_format.json_schema.schema"],
  [/^tools\[(\d+)\]\.parameters$/, "tools[$1].function.parameters"],
];

export const LLAMA_SCHEMA_PARAMS: ParamNames = [[/^format\.schema$/, "json_schema"]];

/** Rethrows an engine error with its `param` in the endpoint's wire names. */
export function withWireParams(names: ParamNames) {
  return (e: unknown): never => {
    if (e instanceof EngineError && e.param !== null) {
      for (const [re, wire] of names) {
        if (re.test(e.param)) throw new EngineError(e.code, e.message, e.param.replace(re, wire), e.retryAfterS);
      }
    }
    throw e;
  };
}
