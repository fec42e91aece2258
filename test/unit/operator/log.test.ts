import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, withResource } from "../../../operator/log.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, destination };
}

describe("operator logger", () => {
  it("puts the resource and the reconcile ID on every line of a resource logger", () => {
    const { lines, destination } = capture();
    const log = withResource(createLogger({ level: "info", destination }), { kind: "AccessPolicy", namespace: "team-a", name: "web" }, "r-1");
    log.info("first");
    log.child({ step: "publish" }).warn("second");
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatchObject({ resource_kind: "AccessPolicy", resource_namespace: "team-a", resource_name: "web", reconcileId: "r-1" });
    }
    expect(lines[1]).toMatchObject({ level: "warn", msg: "second", step: "publish" });
  });

  it("redacts authorization, token and password fields", () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: "info", destination });
    log.info({ token: "t0k", req: { headers: { authorization: "Bearer abc" } }, redis: { password: "pw" } }, "x");
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain("t0k");
    expect(text).not.toContain("Bearer abc");
    expect(text).not.toContain('"pw"');
    expect(text).toContain("[REDACTED]");
  });

  it("respects the level and falls back to info for an unknown one", () => {
    const a = capture();
    createLogger({ level: "warn", destination: a.destination }).info("hidden");
    expect(a.lines).toHaveLength(0);
    const b = capture();
    createLogger({ level: "nonsense", destination: b.destination }).info("shown");
    expect(b.lines).toHaveLength(1);
  });
});
