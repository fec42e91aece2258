import { writeFile } from "node:fs/promises";
import { stringify } from "yaml";

export type Credentials = { token: string } | { certPem: string; keyPem: string };

/** Writes a single-context kubeconfig for the test API server. */
export async function writeKubeconfig(path: string, server: string, caPem: string, user: string, creds: Credentials): Promise<void> {
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  const userEntry = "token" in creds ? { token: creds.token } : { "client-certificate-data": b64(creds.certPem), "client-key-data": b64(creds.keyPem) };
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "vigil-test", cluster: { server, "certificate-authority-data": b64(caPem) } }],
    users: [{ name: user, user: userEntry }],
    contexts: [{ name: "vigil-test", context: { cluster: "vigil-test", user } }],
    "current-context": "vigil-test",
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
}
