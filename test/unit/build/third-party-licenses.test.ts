import { describe, expect, it } from "vitest";
import { packageDir } from "../../../scripts/build/third-party-licenses.ts";

describe("the package a bundled module belongs to (for its licence notice)", () => {
  it("is the directory under the innermost node_modules, scoped packages included", () => {
    expect(packageDir("/app/node_modules/ioredis/built/Redis.js")).toBe("/app/node_modules/ioredis");
    expect(packageDir("/app/node_modules/@kubernetes/client-node/dist/index.js")).toBe("/app/node_modules/@kubernetes/client-node");
    expect(packageDir("/app/node_modules/@kubernetes/client-node/node_modules/ws/lib/websocket.js")).toBe(
      "/app/node_modules/@kubernetes/client-node/node_modules/ws",
    );
  });

  it("is none for the project's own sources and for ids that name no package", () => {
    expect(packageDir("/app/sidecar/main.ts")).toBeUndefined();
    expect(packageDir("/app/node_modules/@scope")).toBeUndefined();
    expect(packageDir("\0rolldown/runtime.js")).toBeUndefined();
  });
});
