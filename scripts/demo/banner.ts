/**
 * What the demo prints once everything is up (pure). Every command is on a line of its own, indented by
 * two spaces, copy-paste ready after `source <env file>` (which exports KUBECONFIG, KUBECTL, KUBECACHEDIR,
 * SIDECAR, TOKEN_ALICE, TOKEN_BOB). The integration test runs these very lines.
 */

/** The app's TCP echo port, named in demo/policy.yaml's CONNECT rule. */
export const DEMO_TUNNEL_PORT = 2222;

export interface BannerFacts {
  envFile: string;
  namespace: string;
  sidecarPort: number;
  appPort: number;
  /** Paths as the user should type them (relative to the current directory when inside it). */
  policyFile: string;
  terminationFile: string;
  wsClient: string;
}

export const READY_LINE = "Vigil demo is ready.";

const bearer = (user: string): string => `-H "Authorization: Bearer $TOKEN_${user.toUpperCase()}"`;

export interface DemoCommands {
  source: string;
  aliceHello: string;
  bobHello: string;
  stream: string;
  websocket: string;
  tunnel: string;
  terminate: string;
  watch: string;
  sessions: string;
  sessionsWide: string;
  editPolicy: string;
  console: string;
}

export function demoCommands(f: BannerFacts): DemoCommands {
  return {
    source: `source ${f.envFile}`,
    aliceHello: `curl -i ${bearer("alice")} $SIDECAR/hello`,
    bobHello: `curl -i ${bearer("bob")} $SIDECAR/hello`,
    stream: `curl -N ${bearer("alice")} $SIDECAR/stream`,
    websocket: `npx node ${f.wsClient} alice`,
    tunnel: `curl -sSN -p -x $SIDECAR --proxy-header "Proxy-Authorization: Bearer $TOKEN_ALICE" telnet://127.0.0.1:${DEMO_TUNNEL_PORT}`,
    terminate: `$KUBECTL create -n ${f.namespace} -f ${f.terminationFile}`,
    watch: `$KUBECTL get sessionterminations -n ${f.namespace} -w`,
    sessions: `$KUBECTL get vigilsessions -n ${f.namespace}`,
    sessionsWide: `$KUBECTL get vigilsessions -n ${f.namespace} -o wide`,
    editPolicy: `$KUBECTL apply -n ${f.namespace} -f ${f.policyFile}`,
    console: `bin/kubectl-vigil console -n ${f.namespace}`,
  };
}

export function readyBanner(f: BannerFacts): string {
  const c = demoCommands(f);
  return [
    "",
    `${READY_LINE} Pod web-0 in namespace ${f.namespace}: sidecar on 127.0.0.1:${f.sidecarPort} → app on 127.0.0.1:${f.appPort}.`,
    "In another terminal (run the commands from this directory):",
    "",
    `  ${c.source}`,
    "",
    "1. Ask as alice (group engineers: allowed; the app shows the identity headers Vigil set) and as bob",
    "   (group contractors: 403):",
    `  ${c.aliceHello}`,
    `  ${c.bobHello}`,
    "",
    "2. Keep a connection open as alice, in a terminal of its own (any or all of these):",
    `  ${c.stream}`,
    `  ${c.websocket}`,
    `  ${c.tunnel}`,
    "   (the last one is a TCP tunnel through CONNECT: type a line and it comes back; once the tunnel is",
    "   cut, curl notices at the next line you type)",
    "",
    "3. See who is connected: the sessions (who, from where, which flows, since when), served by the operator",
    "   through the Kubernetes API (-o wide adds groups, user agent, first IP and end reason; -o yaml the flows",
    "   with their bytes and the recent audit events):",
    `  ${c.sessions}`,
    `  ${c.sessionsWide}`,
    "",
    "4. End alice's sessions (a SessionTermination's spec is immutable: create, don't apply):",
    `  ${c.terminate}`,
    "",
    "5. Watch it reach Completed, with the sessions and connections it ended (Ctrl-C to stop watching):",
    `  ${c.watch}`,
    "   The connections from step 2 are reset at once.",
    "",
    "6. alice again: 401 SESSION_REVOKED (bob is still 403); her session now shows Ended with its end reason:",
    `  ${c.aliceHello}`,
    `  ${c.sessionsWide}`,
    "",
    `Change the policy and re-apply it any time: ${c.editPolicy}`,
    "The console (kubectl vigil console, with your kubeconfig; bin/ on PATH makes it `kubectl vigil`): terminations",
    "with their progress, policies in words, the audit trail, and live sessions where the operator serves the sessions API:",
    `  ${c.console}`,
    "Ctrl-C here stops everything the demo started.",
    "",
  ].join("\n");
}
