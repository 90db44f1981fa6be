// A node for the cluster rig (cluster.ts): kubelet v1.36.3 on a private containerd with its CRI
// plugin, Debian's CNI plugins (a bridge with its own /24), and kube-scheduler, so Pods really run.
// What this machine needs that a normal node does not (docs/cluster.md):
// - cgroup v1: kubelet >= 1.35 refuses it unless `failCgroupV1: false`;
// - no CAP_SYS_RESOURCE: runc cannot lower oom_score_adj, and containerd asks -998 for every pod
//   sandbox, so runc is wrapped to drop negative oomScoreAdj values from the bundle's spec;
// - no registry.k8s.io: the sandbox ("pause") image is the busybox base with `sleep` as its command;
// - kube-controller-manager runs without its node-lifecycle controller (it would need a cloud of
//   nodes to watch), so the node's not-ready taint is removed here once the kubelet reports Ready.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterRig } from './cluster.ts';
import { unmountUnder } from './containerd-host.ts';
import { pushBusyboxBase } from './images.ts';
import { freePort, run, type Service, sleep, startService, toolPath } from './proc.ts';
import type { RegistryRig } from './registry.ts';
import { requireTool } from './start-all.ts';

export const NODE_NAME = 'kiln-node';

export interface NodeRig {
  stop(): Promise<void>;
}

/** Start a node for `cluster`; images are pulled over plain HTTP from `registry`. */
export async function startNode(cluster: ClusterRig, registry: RegistryRig): Promise<NodeRig> {
  for (const b of ['kubelet', 'kube-scheduler']) requireTool(toolPath(b), b, 'kube');
  requireTool('/usr/lib/cni/bridge', 'the CNI plugins (Debian containernetworking-plugins)', 'apt');
  const dir = join(cluster.dir, 'node');
  await mkdir(join(dir, 'cni'), { recursive: true });
  const services: Service[] = [];
  const subnet = 100 + Math.floor(Math.random() * 100);
  const bridge = `kilnbr${subnet}`;
  const sock = join(dir, 'containerd.sock');
  const ctr = (args: string[]) =>
    run('ctr', ['-a', sock, '-n', 'k8s.io', ...args]).catch(() => ({ stdout: '' }));
  const stop = async (): Promise<void> => {
    // Scheduler and kubelet first, then every pod's task (so no shim outlives the rig), then containerd.
    const [ctrd, ...rest] = services;
    for (const s of rest.reverse()) await s.stop();
    if (ctrd) {
      for (const id of (await ctr(['tasks', 'ls', '-q'])).stdout.split('\n').filter(Boolean)) {
        await ctr(['tasks', 'delete', '--force', id]);
      }
      await ctrd.stop();
    }
    services.length = 0;
    await unmountUnder(dir).catch(() => {});
    await run('ip', ['link', 'del', bridge]).catch(() => {}); // absent when no pod ran
  };
  try {
    const base = await pushBusyboxBase(registry);
    const pause = (
      await run(toolPath('crane'), [
        'mutate',
        '--insecure',
        base.ref,
        '--cmd',
        'sleep,2147483647',
        '-t',
        `${registry.host}/pause:rig`,
      ])
    ).stdout.trim();
    await writeFile(
      join(dir, 'cni', '10-kiln.conflist'),
      JSON.stringify({
        cniVersion: '0.4.0',
        name: 'kiln',
        plugins: [
          {
            type: 'bridge',
            bridge,
            isGateway: true,
            ipMasq: false,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: `10.${subnet}.0.0/24` }]],
              dataDir: join(dir, 'ipam'),
            },
          },
        ],
      }),
    );
    const runc = (await run('sh', ['-c', 'command -v runc'])).stdout.trim();
    await writeFile(
      join(dir, 'oom.cjs'),
      `const fs = require('node:fs');
const f = process.argv[2];
const s = JSON.parse(fs.readFileSync(f, 'utf8'));
if (s.process && s.process.oomScoreAdj < 0) { delete s.process.oomScoreAdj; fs.writeFileSync(f, JSON.stringify(s)); }
`,
    );
    await writeFile(
      join(dir, 'runc'),
      `#!/bin/sh
bundle=; prev=
for a in "$@"; do [ "$prev" = --bundle ] && bundle="$a"; prev="$a"; done
if [ -n "$bundle" ]; then '${process.execPath}' '${join(dir, 'oom.cjs')}' "$bundle/config.json" || exit 1; fi
exec '${runc}' "$@"
`,
    );
    await chmod(join(dir, 'runc'), 0o755);
    await writeFile(
      join(dir, 'containerd.toml'),
      `version = 2
root = "${dir}/containerd-root"
state = "${dir}/containerd-state"
[grpc]
  address = "${sock}"
[ttrpc]
  address = "${sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pause}"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      BinaryName = "${join(dir, 'runc')}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."${registry.host}"]
    endpoint = ["http://${registry.host}"]
`,
    );
    services.push(
      await startService({
        name: 'containerd (CRI)',
        cmd: 'containerd',
        args: ['--config', join(dir, 'containerd.toml')],
        logFile: join(dir, 'containerd.log'),
        ready: async () => (await run('ctr', ['-a', sock, 'version'])).stdout.includes('Server:'),
        timeoutMs: 30_000,
      }),
    );
    await writeFile(
      join(dir, 'kubelet.yaml'),
      `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${sock}
authentication: {anonymous: {enabled: false}, webhook: {enabled: false}, x509: {clientCAFile: ${join(cluster.dir, 'ca.crt')}}}
authorization: {mode: AlwaysAllow}
failSwapOn: false
address: 127.0.0.1
port: ${await freePort()}
readOnlyPort: 0
healthzPort: 0
resolvConf: /etc/resolv.conf
# A shared build machine's disk is often >85% full: do not evict or garbage-collect for it.
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
`,
    );
    const node = async () =>
      (await cluster.api('GET', `/api/v1/nodes/${NODE_NAME}`, undefined, [200, 404])).json;
    services.push(
      await startService({
        name: 'kubelet',
        cmd: toolPath('kubelet'),
        args: [
          `--config=${join(dir, 'kubelet.yaml')}`,
          `--kubeconfig=${cluster.kubeconfigPath}`,
          `--root-dir=${join(dir, 'kubelet')}`,
          `--cert-dir=${join(dir, 'pki')}`,
          `--hostname-override=${NODE_NAME}`,
          '--node-ip=127.0.0.1',
        ],
        logFile: join(dir, 'kubelet.log'),
        ready: async () =>
          ((await node())?.status?.conditions ?? []).some(
            (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
          ),
        timeoutMs: 60_000,
      }),
    );
    // What the node-lifecycle controller does for a Ready node.
    await cluster.api(
      'PATCH',
      `/api/v1/nodes/${NODE_NAME}`,
      { spec: { taints: [] } },
      [200],
      'application/merge-patch+json',
    );
    services.push(
      await startService({
        name: 'kube-scheduler',
        cmd: toolPath('kube-scheduler'),
        args: [`--kubeconfig=${cluster.kubeconfigPath}`, '--leader-elect=false', '--secure-port=0'],
        logFile: join(dir, 'kube-scheduler.log'),
        // No serving port: give it a moment to list nodes; unschedulable pods are retried anyway.
        ready: async () => {
          await sleep(500);
          return true;
        },
        timeoutMs: 10_000,
      }),
    );
  } catch (e) {
    await stop();
    throw new Error(`node rig failed to start (logs in ${dir}): ${(e as Error).message}`);
  }
  return { stop };
}
