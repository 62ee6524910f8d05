import { Writable } from "node:stream";
import pino from "pino";

/** A pino logger whose JSON lines land in `lines`, for tests that read what the server logged. */
export function capturedLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      cb();
    },
  });
  return { logger: pino({ level: "info" }, sink), lines };
}
