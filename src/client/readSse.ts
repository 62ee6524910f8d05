import { createParser, type EventSourceMessage } from "eventsource-parser";

/**
 * Reads an OpenAI-style SSE body as parsed JSON events, stopping at `data: [DONE]`.
 * A mid-stream `data: {"error":…}` is thrown, as the official SDKs do.
 *
 * The framing (comment lines such as llama-server's and our own keep-alives, CRLF, multi-line
 * data, events split across chunks) is eventsource-parser's: a hand-written splitter here once
 * read llama-server's `:` keep-alive as JSON and counted the stream as failed.
 */
export async function* readSse<T>(body: AsyncIterable<Uint8Array>): AsyncGenerator<T> {
  for await (const data of readSseData(body)) {
    const event: unknown = JSON.parse(data);
    const error = (event as { error?: { message?: string } }).error;
    if (error) throw new Error(error.message ?? "stream error");
    yield event as T;
  }
}

/** The `data:` payloads of an SSE body up to `[DONE]`, comments and empty events skipped. */
export async function* readSseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const ready: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => ready.push(e) });
  for await (const part of body) {
    parser.feed(decoder.decode(part, { stream: true }));
    while (ready.length > 0) {
      const { data } = ready.shift() as EventSourceMessage;
      if (data === "[DONE]") return;
      if (data !== "") yield data;
    }
  }
}
