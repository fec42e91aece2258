/**
 * The two measured scenarios of `npm run bench:e2e`, one round each:
 *  (a) `kubectl create` SessionTermination → the LAST of `connections` live CONNECT tunnels of one user (fresh
 *      `sub` + `sid`), spread evenly over every sidecar, has closed; plus the operator's own view (phase Completed,
 *      seen by polling the object);
 *  (b) `kubectl apply` of a policy version without the `ops` rule → the last of one `ops` tunnel per sidecar has
 *      closed (an `engineers` tunnel, still allowed, must survive); then the `ops` rule is re-applied and enforced;
 *  (c) `kubectl create` of a group's SessionTermination → the last of `users × perUser` live tunnels of the group's
 *      members (a group new each round: a terminated group's members may log in again only after the cutoff) closed.
 * Times are taken with performance.now() in this process; sockets are watched for `close` (RST → ECONNRESET).
 */
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { echo, openTunnel } from "../../test/integration/sidecar/proxy-harness.ts";
import { watchClose } from "../support/close-watch.ts";
import { assertOperatorRunning, getTermination, policyManifest, terminationManifest, waitPolicyReady, type Rig, type TerminationTarget } from "./rig.ts";

export interface TerminationRound {
  /** just before `kubectl create` is spawned → last client socket closed (NaN: not all closed in time). */
  allClosedMs: number;
  /** `kubectl create` returned → last client socket closed. */
  afterReturnMs: number;
  /** How long `kubectl create` itself took. */
  kubectlMs: number;
  firstClosedMs: number;
  closed: number;
  resets: number;
  /** just before `kubectl create` → phase Completed seen by polling (NaN: not Completed in time). */
  completedMs: number;
  phase: string;
  connectionsClosed: number;
  sidecarsAcknowledged: number;
}

export interface PolicyRound {
  /** just before `kubectl apply` is spawned → last ops tunnel closed. */
  allClosedMs: number;
  afterReturnMs: number;
  kubectlMs: number;
  closed: number;
  resets: number;
  /** The engineers tunnel (still allowed) survived the change. */
  controlSurvived: boolean;
  /** Re-allowing ops, until an ops tunnel opens on every sidecar again (not part of the figure). */
  reallowMs: number;
}

const CLOSE_TIMEOUT_MS = 10_000;
/** BENCH_E2E_SETTLE_MS: a pause between opening a round's tunnels and the termination (diagnostic; default none). */
const SETTLE_MS = Number(process.env["BENCH_E2E_SETTLE_MS"] ?? 0);

/** Opens `total` tunnels with one token, round-robin over the sidecars from `offset`, `parallel` at a time. */
async function openSpread(rig: Rig, token: string, total: number, parallel: number, offset = 0): Promise<Socket[]> {
  const sidecarPort = (i: number): number => rig.sidecars[(offset + i) % rig.sidecars.length]!.port;
  const sockets: Socket[] = [];
  // The first sight of the session creates it in the shared store; the rest find it.
  sockets.push(await openTunnel(sidecarPort(0), rig.echoPort, token));
  let next = 1;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      sockets.push(await openTunnel(sidecarPort(i), rig.echoPort, token));
    }
  };
  try {
    await Promise.all(Array.from({ length: parallel }, worker));
  } catch (err) {
    for (const s of sockets) s.destroy();
    throw err;
  }
  return sockets;
}

async function probeEcho(sockets: Socket[]): Promise<void> {
  for (const s of [sockets[0]!, sockets.at(-1)!]) {
    if ((await echo(s, "ping")) !== "ping") throw new Error("tunnel echo mismatch");
  }
}

export async function terminationRound(rig: Rig, round: number, connections: number): Promise<TerminationRound> {
  assertOperatorRunning();
  const tag = randomBytes(6).toString("hex");
  const subject = `term-user-${round}-${tag}`;
  const token = await rig.issuer.token({ sub: subject, sid: `sid-${tag}`, email: `${subject}@example.com`, groups: ["engineers"] });
  const sockets = await openSpread(rig, token, connections, 50);
  return measureTermination(rig, `bench-${round}-${tag}`, { subject }, sockets);
}

/** `users` members of a new group, each with `perUser` tunnels spread over every sidecar; the group terminated. */
export async function groupTerminationRound(rig: Rig, round: number, users: number, perUser: number): Promise<TerminationRound> {
  assertOperatorRunning();
  const tag = randomBytes(6).toString("hex");
  const group = `crew-${round}-${tag}`;
  const sockets: Socket[] = [];
  try {
    for (let u = 0; u < users; u++) {
      const sub = `crew-${u}-${tag}`;
      const token = await rig.issuer.token({ sub, sid: `sid-${u}-${tag}`, email: `${sub}@example.com`, groups: ["engineers", group] });
      sockets.push(...(await openSpread(rig, token, perUser, 50, u)));
    }
  } catch (err) {
    for (const s of sockets) s.destroy();
    throw err;
  }
  return measureTermination(rig, `bench-group-${round}-${tag}`, { group }, sockets);
}

/** Times `kubectl create` of the termination against the sockets it must reset, and the operator's Completed. */
async function measureTermination(rig: Rig, name: string, target: TerminationTarget, sockets: Socket[]): Promise<TerminationRound> {
  await probeEcho(sockets);
  if (SETTLE_MS > 0) await new Promise((r) => setTimeout(r, SETTLE_MS));
  const open = sockets.filter((s) => !s.destroyed).length;
  if (open !== sockets.length) throw new Error(`only ${open}/${sockets.length} tunnels open before the termination`);

  const watch = watchClose(sockets, CLOSE_TIMEOUT_MS);
  const t0 = performance.now();
  const created = rig.kubectl(["create", "-f", "-"], terminationManifest(name, target));
  const completed = pollCompleted(rig, name, created, t0);
  const result = await created;
  const returnedAt = performance.now();
  if (result.code !== 0) throw new Error(`kubectl create failed: ${result.stderr}`);
  const allClosed = await watch.all;
  if (!allClosed) for (const s of sockets) s.destroy();
  const status = await completed;
  return {
    allClosedMs: allClosed ? watch.lastAt() - t0 : Number.NaN,
    afterReturnMs: allClosed ? watch.lastAt() - returnedAt : Number.NaN,
    kubectlMs: returnedAt - t0,
    firstClosedMs: watch.firstAt() - t0,
    closed: watch.closed(),
    resets: watch.resets(),
    ...status,
  };
}

/** Polls the SessionTermination (every 25 ms, after kubectl returned) until Completed or Failed. */
async function pollCompleted(
  rig: Rig,
  name: string,
  created: Promise<unknown>,
  t0: number,
): Promise<Pick<TerminationRound, "completedMs" | "phase" | "connectionsClosed" | "sidecarsAcknowledged">> {
  await created;
  const deadline = performance.now() + 40_000;
  for (;;) {
    const t = await getTermination(rig, name).catch(() => undefined);
    const phase = t?.status?.phase ?? "none";
    if (phase === "Completed" || phase === "Failed" || performance.now() > deadline) {
      return {
        completedMs: phase === "Completed" ? performance.now() - t0 : Number.NaN,
        phase,
        connectionsClosed: t?.status?.connectionsClosed ?? 0,
        sidecarsAcknowledged: t?.status?.sidecarsAcknowledged ?? 0,
      };
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Opens one tunnel per sidecar for `token`, retrying refusals (a just-applied policy may not be in force yet). */
async function tunnelPerSidecar(rig: Rig, token: string, timeoutMs: number): Promise<Socket[]> {
  const deadline = Date.now() + timeoutMs;
  return Promise.all(
    rig.sidecars.map(async (sidecar) => {
      for (;;) {
        try {
          return await openTunnel(sidecar.port, rig.echoPort, token);
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`${sidecar.name}: ops tunnel still refused after ${timeoutMs} ms`, { cause: err });
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }),
  );
}

export async function policyRound(rig: Rig, round: number): Promise<PolicyRound> {
  assertOperatorRunning();
  const tag = randomBytes(6).toString("hex");
  const opsToken = await rig.issuer.token({ sub: `ops-${round}-${tag}`, sid: `sid-${tag}`, email: `ops-${round}@example.com`, groups: ["ops"] });
  const engToken = await rig.issuer.token({ sub: `eng-${round}-${tag}`, sid: `sid-e-${tag}`, email: `eng-${round}@example.com`, groups: ["engineers"] });
  const sockets = await tunnelPerSidecar(rig, opsToken, 10_000);
  const control = await openTunnel(rig.sidecars[round % rig.sidecars.length]!.port, rig.echoPort, engToken);
  control.on("error", () => undefined);
  await probeEcho(sockets);

  const watch = watchClose(sockets, CLOSE_TIMEOUT_MS);
  const t0 = performance.now();
  const result = await rig.kubectl(["apply", "-f", "-"], policyManifest(rig.echoPort, false));
  const returnedAt = performance.now();
  if (result.code !== 0) throw new Error(`kubectl apply failed: ${result.stderr}`);
  const allClosed = await watch.all;
  if (!allClosed) for (const s of sockets) s.destroy();
  const controlSurvived = !control.destroyed && (await echo(control, "still-here").catch(() => "")) === "still-here";
  control.destroy();

  // Re-allow ops for the next round; the next round's tunnels are opened only once every sidecar admits them.
  const r0 = performance.now();
  const again = await rig.kubectl(["apply", "-f", "-"], policyManifest(rig.echoPort, true));
  if (again.code !== 0) throw new Error(`kubectl apply (re-allow) failed: ${again.stderr}`);
  await waitPolicyReady(rig, undefined, 20_000);
  const probeToken = await rig.issuer.token({ sub: `ops-probe-${tag}`, sid: `sid-p-${tag}`, groups: ["ops"] });
  for (const s of await tunnelPerSidecar(rig, probeToken, 10_000)) s.destroy();
  const reallowMs = performance.now() - r0;

  return {
    allClosedMs: allClosed ? watch.lastAt() - t0 : Number.NaN,
    afterReturnMs: allClosed ? watch.lastAt() - returnedAt : Number.NaN,
    kubectlMs: returnedAt - t0,
    closed: watch.closed(),
    resets: watch.resets(),
    controlSurvived,
    reallowMs,
  };
}
