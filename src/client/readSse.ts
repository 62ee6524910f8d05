/**
 * Reads an OpenAI-style SSE body as parsed JSON events, stopping at `data: [DONE]`.
 * A mid-stream `data: {"error":…}` is thrown, as the official SDKs do.
 */
export async function* readSse<T>(body: AsyncIterable<Uint8Array>): AsyncGenerator<T> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const part of body) {
    buffer += decoder.decode(part, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) !== -1) {
      const data = buffer.slice(0, cut).replace(/^data: /, "");
      buffer = buffer.slice(cut + 2);
      if (data === "[DONE]") return;
      if (data === "") continue;
      const event: unknown = JSON.parse(data);
      const error = (event as { error?: { message?: string } }).error;
      if (error) throw new Error(error.message ?? "stream error");
      yield event as T;
    }
  }
}
