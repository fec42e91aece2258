import { HttpMethod, RequestContext } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { PooledKubeConfig, dispatcherKey } from "../../../../operator/kube/clients.ts";

const CA = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");

/** A kubeconfig with two users of one HTTPS cluster (plain data: nothing connects). */
function kubeConfig(): PooledKubeConfig {
  const kc = new PooledKubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:6443", caData: CA, skipTLSVerify: false }],
    users: [
      { name: "alice", token: "t-alice" },
      { name: "bob", token: "t-bob" },
    ],
    contexts: [
      { name: "a", cluster: "c", user: "alice" },
      { name: "b", cluster: "c", user: "bob" },
    ],
    currentContext: "a",
  });
  return kc;
}

async function dispatcherOf(kc: PooledKubeConfig): Promise<unknown> {
  const ctx = new RequestContext("https://127.0.0.1:6443/api", HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  return ctx.getDispatcher();
}

describe("PooledKubeConfig", () => {
  it("gives every request of one (cluster, user) the same connection pool, and another user another", async () => {
    const kc = kubeConfig();
    const first = await dispatcherOf(kc);
    expect(first).toBeDefined();
    expect(await dispatcherOf(kc)).toBe(first);
    kc.setCurrentContext("b");
    const bob = await dispatcherOf(kc);
    expect(bob).not.toBe(first);
    expect(await dispatcherOf(kc)).toBe(bob);
  });

  it("still sets each request's bearer token", async () => {
    const kc = kubeConfig();
    const ctx = new RequestContext("https://127.0.0.1:6443/api", HttpMethod.GET);
    await kc.applySecurityAuthentication(ctx);
    expect(ctx.getHeaders()["Authorization"]).toBe("Bearer t-alice");
  });
});

describe("dispatcherKey", () => {
  it("differs with the server, the CA or the client certificate, not with the token", () => {
    const cluster = { name: "c", server: "https://a:6443", caData: "X", skipTLSVerify: false };
    const user = { name: "u", token: "one" };
    const key = dispatcherKey(cluster, user);
    expect(dispatcherKey(cluster, { ...user, token: "two" })).toBe(key);
    expect(dispatcherKey({ ...cluster, server: "https://b:6443" }, user)).not.toBe(key);
    expect(dispatcherKey({ ...cluster, caData: "Y" }, user)).not.toBe(key);
    expect(dispatcherKey(cluster, { ...user, certData: "C" })).not.toBe(key);
    expect(dispatcherKey(null, null)).toBe(JSON.stringify([null, null]));
  });
});
