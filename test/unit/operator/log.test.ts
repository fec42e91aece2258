import { describe, expect, it } from "vitest";
import { createLogger } from "../../../lib/log.ts";
import { withResource } from "../../../operator/log.ts";
import { capture } from "../lib/capture.ts";

describe("operator logger", () => {
  it("puts the resource and the reconcile ID on every line of a resource logger", () => {
    const { lines, destination } = capture();
    const log = withResource(
      createLogger({ name: "vigil-operator", level: "info", destination }),
      { kind: "AccessPolicy", namespace: "team-a", name: "web" },
      "r-1",
    );
    log.info("first");
    log.child({ step: "publish" }).warn("second");
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatchObject({ resource_kind: "AccessPolicy", resource_namespace: "team-a", resource_name: "web", reconcileId: "r-1" });
    }
    expect(lines[1]).toMatchObject({ level: "warn", msg: "second", step: "publish" });
  });
});
