/** A one-line progress bar on stderr: percent, bytes, speed and ETA. */
export function createProgressBar(label: string): { update(done: number, total: number | null): void; end(): void } {
  const started = Date.now();
  let firstDone: number | null = null;
  let lastDraw = 0;
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  const draw = (done: number, total: number | null) => {
    firstDone ??= done;
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    const speed = (done - firstDone) / secs;
    const pct = total ? Math.min(100, (done / total) * 100) : null;
    const width = 24;
    const filled = pct === null ? 0 : Math.round((pct / 100) * width);
    const eta = total && speed > 0 ? Math.round((total - done) / speed) : null;
    const line =
      `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ` +
      `${pct === null ? "?" : pct.toFixed(1)}% ${mb(done)}${total ? `/${mb(total)}` : ""} ` +
      `${mb(speed)}/s${eta === null ? "" : ` ETA ${eta}s`}`;
    process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
  };
  return {
    update(done, total) {
      const now = Date.now();
      if (now - lastDraw < (process.stderr.isTTY ? 100 : 2000) && done !== total) return;
      lastDraw = now;
      draw(done, total);
    },
    end() {
      if (process.stderr.isTTY) process.stderr.write("\n");
    },
  };
}
