/** The sidecar's own clock for the termination scenario (docs/decisions/perf-0006-termination-burst.md). */

/** Its `vigil_sidecar_termination_last_reset_timestamp_seconds` in epoch ms (NaN when it exposes none). */
export async function lastResetAt(adminPort: number): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${adminPort}/metrics`).then((r) => r.text());
  const m = /^vigil_sidecar_termination_last_reset_timestamp_seconds ([0-9.e+]+)$/m.exec(text);
  return m?.[1] === undefined ? Number.NaN : Number(m[1]) * 1000;
}
