import { describe, expect, it } from "vitest";
import { busKeys, objectField, parseObjectField } from "../../../../operator/api/bus-keys.ts";

describe("busKeys", () => {
  it("builds every key from the prefix, as documented in bus.ts", () => {
    const keys = busKeys("{vigil}:");
    expect(keys).toMatchObject({
      revision: "{vigil}:revision",
      policies: "{vigil}:policies",
      revocations: "{vigil}:revocations",
      events: "{vigil}:events",
      sidecars: "{vigil}:sidecars",
    });
    expect(keys.acks("ns/t/uid")).toBe("{vigil}:acks:ns/t/uid");
    expect(busKeys().revision).toBe("vigil:revision");
  });

  it.each(["", "has space", "x".repeat(129), "tab\t"])("refuses the prefix %j with a coded error", (prefix) => {
    expect(() => busKeys(prefix)).toThrow(expect.objectContaining({ code: "BUS_INVALID_PREFIX" }));
  });

  it("builds and parses namespace/name fields", () => {
    expect(objectField("default", "web")).toBe("default/web");
    expect(parseObjectField("default/web")).toEqual({ namespace: "default", name: "web" });
    for (const bad of ["", "a", "/a", "a/", "a/b/c"]) expect(parseObjectField(bad)).toBeNull();
  });
});
