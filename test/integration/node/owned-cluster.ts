/**
 * A node cluster owned by this process, for the cleanup test: starts it, prints one JSON line describing what it made
 * (scratch directory, cgroup tree, namespace holder PID), then waits to be killed.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { startCluster } from "../../cluster/harness.ts";

const cluster = await startCluster({ node: true });
const node = cluster.env.node;
if (node === undefined) throw new Error("no node");
const holderPid = Number((await readFile(join(cluster.env.dir, "node-ns.pid"), "utf8")).trim());
process.stdout.write(
  `${JSON.stringify({ dir: cluster.env.dir, cgroup: node.cgroup, holderPid, kubeconfig: cluster.env.kubeconfig, kubectl: cluster.env.kubectl })}\n`,
);
setInterval(() => undefined, 1 << 30);
