import type { WorkQueue } from "../../../../operator/controller/workqueue.ts";

/** Takes every ready key in order, marking each done. */
export async function drainReady(q: WorkQueue): Promise<string[]> {
  const out: string[] = [];
  while (q.len() > 0) {
    const key = await q.get();
    if (key === undefined) break;
    out.push(key);
    q.done(key);
  }
  return out;
}
