/** A JSON Schema feature the grammar cannot enforce. Output is never silently unconstrained. */
export class UnsupportedSchema extends Error {
  constructor(
    /** JSON pointer into the schema, e.g. "#/properties/age/multipleOf". */
    readonly pointer: string,
    readonly feature: string,
  ) {
    super(`The JSON schema uses ${feature} at '${pointer}', which this server cannot enforce.`);
  }
}
