/** Prints rows under a header, each column as wide as its widest cell. */
export function printTable(head: readonly string[], body: readonly (readonly string[])[]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  for (const r of [head, ...body])
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd()}\n`,
    );
}
