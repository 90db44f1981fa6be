// Certificates and kubeconfig for the test API server: a throwaway CA, a serving certificate for
// 127.0.0.1 and a client certificate in group system:masters (FIELD-NOTES: client-cert auth).
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeTls } from './kube-api.ts';
import { run } from './proc.ts';

/** CA, serving certificate (SAN 127.0.0.1, localhost) and a client certificate with O=system:masters. */
export async function makeCerts(dir: string): Promise<void> {
  const p = (f: string) => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=kiln-test-ca',
  ]);
  const leaf = async (name: string, subj: string, ext: string): Promise<void> => {
    await writeFile(p(`${name}.ext`), ext);
    await run('openssl', [
      'req',
      ...ec,
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.csr`),
      '-subj',
      subj,
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      // A serial per leaf: `-CAcreateserial` makes the two leaves (signed in parallel) race on
      // ca.srl ("Unable to load number from ca.srl" under load).
      '-set_serial',
      `0x01${randomBytes(15).toString('hex')}`,
      '-out',
      p(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      p(`${name}.ext`),
    ]);
  };
  await Promise.all([
    leaf(
      'serving',
      '/CN=127.0.0.1',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
    ),
    leaf('client', '/O=system:masters/CN=kiln-test', 'extendedKeyUsage=clientAuth\n'),
  ]);
}

export function kubeconfigYaml(server: string, tls: KubeTls, context: string, namespace?: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: kiln-test
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(tls.ca)}
users:
- name: kiln-test
  user:
    client-certificate-data: ${b64(tls.cert)}
    client-key-data: ${b64(tls.key)}
contexts:
- name: ${context}
  context:
    cluster: kiln-test
    user: kiln-test${namespace ? `\n    namespace: ${namespace}` : ''}
current-context: ${context}
`;
}
