/** Plain-text tables as kubectl prints them (columns separated by three spaces, upper-case headers). Pure. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

/** `<none>` for empty cells, as kubectl does. */
export const orNone = (text: string | undefined): string => (text === undefined || text === "" ? "<none>" : text);
