// Sigstore bundles (cosign v3's format) next to the classic tags, against REAL verifiers on two
// REAL registries: Debian's docker-registry 2.8 (no referrers API: kiln keeps the sha256-<hex>
// fallback index) and go-containerregistry's registry with the referrers API. Both ways:
// cosign v3.1.2 verifies what kiln writes, kiln verifies what cosign v3 writes, cosign v2.6.5
// verifies classic-only images as before but switches to the bundles once an image has one (then
// offline it needs --trusted-root), and tampering fails in kiln and cosign v3.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Digest } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { pushReferrers, referrersTag } from '../../src/oci/referrers.ts';
import { Registry } from '../../src/oci/remote/client.ts';
import { getReferrers } from '../../src/oci/remote/referrers.ts';
import { RegistryRepository } from '../../src/oci/remote/repository.ts';
import { BUNDLE_V03_MEDIA_TYPE, COSIGN_SIGN_PREDICATE_TYPE } from '../../src/sign/bundle.ts';
import { bundleReferrer, putBundleBlobs, readBundles } from '../../src/sign/bundle-store.ts';
import { kiln, kilnEnv } from '../rig/cli.ts';
import {
  cosign3In,
  cosignIn,
  emptyTrustedRoot,
  fails,
  ok,
  pushTinyImage,
  type Ran,
  verifyArgs,
  verifyAttestationArgs,
} from '../rig/cosign.ts';
import { tempDir } from '../rig/proc.ts';
import { type RegistryRig, startReferrersRegistry, startRegistry } from '../rig/registry.ts';

const PW = 'bundle-Pw-3317';
const PREDICATE = {
  buildDefinition: { buildType: 'https://kiln.dev/build-types/test/v1', externalParameters: {} },
  runDetails: { builder: { id: 'https://kiln.dev/builders/test' } },
};

let work: { path: string; remove: () => Promise<void> };
let env: NodeJS.ProcessEnv;
let cosign: ReturnType<typeof cosignIn>;
let cosign3: ReturnType<typeof cosign3In>;
const at = (f: string): string => join(work.path, f);
const run = (args: string[]): Promise<Ran> => kiln(args, { env, cwd: work.path });
const digestOf = (ref: string): Digest => ref.slice(ref.indexOf('@') + 1) as Digest;
const registries: Record<string, RegistryRig> = {};

before(async () => {
  const [a, b, w] = await Promise.all([startRegistry(), startReferrersRegistry(), tempDir('sign-bundles')]);
  registries['fallback'] = a;
  registries['api'] = b;
  work = w;
  cosign = cosignIn(work.path);
  cosign3 = cosign3In(work.path);
  env = kilnEnv({ DOCKER_CONFIG: at('docker'), HOME: work.path, COSIGN_PASSWORD: PW });
  await ok(run(['keygen', '--output-key-prefix', 'kiln']), 'kiln keygen');
  await ok(run(['keygen', '--output-key-prefix', 'other']), 'kiln keygen (other)');
  await ok(cosign3(['generate-key-pair', '--output-key-prefix', 'c3'], PW), 'cosign3 generate-key-pair');
  await writeFile(at('predicate.json'), JSON.stringify(PREDICATE));
  rootFile = await emptyTrustedRoot(work.path);
});

/**
 * cosign v2.6.3+ switches to the bundle path as soon as an image has a bundle (cosign PR #4727,
 * "Backport bundle detection"), and then refuses to verify offline without a trusted root, even
 * with --key and --new-bundle-format=false. A trusted root with nothing in it is enough for a key.
 */
let rootFile: string;
const ROOT = (): string[] => ['--trusted-root', rootFile];

after(async () => {
  await Promise.all(Object.values(registries).map((r) => r.stop()));
  await work?.remove();
});

const v3verify = (img: string, pub = 'kiln.pub', extra: string[] = []) =>
  cosign3(verifyArgs(at(pub), img, extra));
const v3verifyAtt = (img: string, pub = 'kiln.pub', extra: string[] = []) =>
  cosign3(verifyAttestationArgs(at(pub), img, extra));
const v2verify = (img: string, pub = 'kiln.pub', extra: string[] = []) =>
  cosign(verifyArgs(at(pub), img, extra));
const v2verifyAtt = (img: string, pub = 'kiln.pub', extra: string[] = []) =>
  cosign(verifyAttestationArgs(at(pub), img, extra));
const v3offline = ['--use-signing-config=false', '--tlog-upload=false', '--yes'];

async function refused(args: string[], code: string): Promise<Ran> {
  const r = await run([...args, '--json']);
  assert.equal(r.code, 3, `expected exit 3 (${code}), got ${r.code}:\n${r.stderr}\n${r.stdout}`);
  assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, code, r.stderr);
  return r;
}

for (const kind of ['fallback', 'api'] as const) {
  describe(`${kind === 'api' ? 'registry with the referrers API' : 'docker-registry 2.8 (referrers tag fallback)'}`, () => {
    const reg = () => registries[kind]!;
    const repoOf = (img: string) =>
      new RegistryRepository(new Registry(reg().host), img.slice(img.indexOf('/') + 1, img.indexOf('@')));

    test('kiln sign + attest write both formats; cosign v3 and kiln verify them; cosign v2.6.5 offline only with an (empty) trusted root', async () => {
      const img = await pushTinyImage(reg().host, 'ml/both', 'v1');
      const s = await ok(run(['sign', img, '--key', 'kiln.key', '--json']), 'kiln sign');
      const signed = JSON.parse(s.stdout) as { format: string; bundles: { via: string; tag?: string } };
      assert.equal(signed.format, 'both');
      assert.equal(signed.bundles.via, kind === 'api' ? 'api' : 'tag');
      await ok(run(['attest', img, '--key', 'kiln.key', '--predicate', 'predicate.json']), 'kiln attest');
      // Where the bundles are: the API lists them, or the fallback tag's index does (with the
      // bundle artifactType on each entry, which Kyverno's SigstoreBundle filters on).
      const repo = repoOf(img);
      const d = digestOf(img);
      if (kind === 'api') {
        const listed = await getReferrers(repo.registry.transport, repo.repo, d);
        assert.equal(listed?.manifests.length, 2);
        assert.equal(await repo.resolveTag(referrersTag(d)), undefined, 'no fallback tag next to the API');
      } else {
        const index = JSON.parse((await repo.getManifest(referrersTag(d))).bytes.toString());
        assert.equal(index.mediaType, MT.ociIndex);
        assert.deepEqual(
          index.manifests.map((m: { artifactType: string }) => m.artifactType),
          [BUNDLE_V03_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE],
        );
      }
      const v3 = await ok(v3verify(img), 'cosign v3 verify');
      assert.match(v3.stdout, /sigstore\.dev\/cosign\/sign\/v1/);
      await ok(v3verifyAtt(img), 'cosign v3 verify-attestation');
      await ok(v3verify(img, 'kiln.pub', ['--new-bundle-format=false']), 'cosign v3 verify, classic path');
      const offline = await fails(v2verify(img), 'cosign v2.6.5 offline, bundles present, no trusted root');
      assert.match(offline.stderr, /trusted root is required when using new bundle format/);
      const v2 = await ok(v2verify(img, 'kiln.pub', ROOT()), 'cosign v2 verify --trusted-root (empty)');
      assert.match(v2.stdout, /docker-manifest-digest/);
      await ok(v2verifyAtt(img, 'kiln.pub', ROOT()), 'cosign v2 verify-attestation --trusted-root (empty)');
      const k = await ok(
        run(['verify', img, '--key', 'kiln.pub', '--attestation', '--signature-format', 'both', '--json']),
      );
      const out = JSON.parse(k.stdout) as {
        checks: { format: string }[];
        attestation: { predicates: unknown[] };
      };
      assert.deepEqual(
        out.checks.map((x) => x.format),
        ['bundle', 'classic'],
      );
      assert.deepEqual(out.attestation.predicates, [PREDICATE]);
      // Other key: refused by all three.
      await fails(v3verify(img, 'other.pub'), 'cosign v3 verify, other key');
      await fails(v2verify(img, 'other.pub', ROOT()), 'cosign v2 verify, other key');
      await refused(['verify', img, '--key', 'other.pub'], 'SIGNATURE_INVALID');
    });

    test('signing again adds no bundle; --signature-format classic writes no bundle, bundle no .sig', async () => {
      const img = await pushTinyImage(reg().host, 'ml/idem', 'v1');
      await ok(run(['sign', img, '--key', 'kiln.key']));
      const again = JSON.parse((await ok(run(['sign', img, '--key', 'kiln.key', '--json']))).stdout);
      assert.equal(again.bundles.bundles[0].added, false);
      assert.equal(again.signature.added, false);
      assert.equal((await readBundles(repoOf(img), digestOf(img))).bundles.length, 1);

      const classic = await pushTinyImage(reg().host, 'ml/classic', 'v1');
      await ok(run(['sign', classic, '--key', 'kiln.key', '--signature-format', 'classic']));
      assert.equal((await readBundles(repoOf(classic), digestOf(classic))).bundles.length, 0);
      await ok(v3verify(classic), 'cosign v3 verifies classic-only by falling back');
      await ok(v2verify(classic), 'cosign v2 verifies classic-only with no trusted root');
      await ok(
        run([
          'attest',
          classic,
          '--key',
          'kiln.key',
          '--predicate',
          'predicate.json',
          '--signature-format',
          'classic',
        ]),
      );
      await ok(v3verifyAtt(classic), 'cosign v3 verify-attestation, classic only');
      await ok(v2verifyAtt(classic), 'cosign v2 verify-attestation, classic only');
      await ok(run(['verify', classic, '--key', 'kiln.pub']), 'kiln verify falls back to classic');
      await refused(
        ['verify', classic, '--key', 'kiln.pub', '--signature-format', 'bundle'],
        'SIGNATURE_MISSING',
      );

      const bundled = await pushTinyImage(reg().host, 'ml/bundled', 'v1');
      await ok(run(['sign', bundled, '--key', 'kiln.key', '--signature-format', 'bundle']));
      assert.equal(await repoOf(bundled).resolveTag(`${digestOf(bundled).replace(':', '-')}.sig`), undefined);
      await ok(v3verify(bundled), 'cosign v3 verify, bundle only');
      await fails(v2verify(bundled), 'cosign v2 offline without a trusted root');
      await ok(v2verify(bundled, 'kiln.pub', ROOT()), 'cosign v2.6.5 reads the bundle given a trusted root');
      await ok(
        run([
          'attest',
          bundled,
          '--key',
          'kiln.key',
          '--predicate',
          'predicate.json',
          '--signature-format',
          'bundle',
        ]),
      );
      await ok(v3verifyAtt(bundled), 'cosign v3 verify-attestation, bundle only');
      await fails(v2verifyAtt(bundled), 'cosign v2 verify-attestation offline without a trusted root');
      await ok(
        v2verifyAtt(bundled, 'kiln.pub', ROOT()),
        'cosign v2 verify-attestation, bundle only, trusted root',
      );
      await refused(
        ['verify', bundled, '--key', 'kiln.pub', '--signature-format', 'both'],
        'SIGNATURE_MISSING',
      );
    });

    test('kiln verifies what cosign v3 signs and attests', async () => {
      const img = await pushTinyImage(reg().host, 'ml/by-cosign3', 'v1');
      await ok(cosign3(['sign', '--key', at('c3.key'), ...v3offline, img], PW), 'cosign v3 sign');
      await ok(
        cosign3(
          [
            'attest',
            '--key',
            at('c3.key'),
            ...v3offline,
            '--type',
            'slsaprovenance1',
            '--predicate',
            at('predicate.json'),
            img,
          ],
          PW,
        ),
        'cosign v3 attest',
      );
      const found = await readBundles(repoOf(img), digestOf(img));
      assert.equal(found.bundles.length, 2, 'cosign v3 wrote two bundles as referrers');
      assert.equal(found.via, kind === 'api' ? 'api' : 'tag');
      const k = await ok(run(['verify', img, '--key', 'c3.pub', '--attestation', '--json']), 'kiln verify');
      const out = JSON.parse(k.stdout) as {
        checks: { format: string }[];
        attestation: { predicates: unknown[] };
      };
      assert.deepEqual(
        out.checks.map((x) => x.format),
        ['bundle'],
      );
      assert.deepEqual(out.attestation.predicates, [PREDICATE]);
      await refused(['verify', img, '--key', 'kiln.pub'], 'SIGNATURE_INVALID');
      await refused(
        ['verify', img, '--key', 'c3.pub', '--type', 'https://example.com/sbom/v1'],
        'ATTESTATION_MISSING',
      );
    });

    test('an attestation is not a signature: cosign v3 verify accepts it, kiln verify does not', async () => {
      const img = await pushTinyImage(reg().host, 'ml/att-only', 'v1');
      await ok(
        run([
          'attest',
          img,
          '--key',
          'kiln.key',
          '--predicate',
          'predicate.json',
          '--signature-format',
          'bundle',
        ]),
      );
      await ok(v3verify(img), 'cosign v3 verify takes any bundle signed by the key');
      await refused(['verify', img, '--key', 'kiln.pub'], 'SIGNATURE_MISSING');
    });

    test('a bundle copied from another image, and an altered bundle, fail in kiln and cosign v3', async () => {
      const a = await pushTinyImage(reg().host, 'ml/tamper', 'a');
      const b = await pushTinyImage(reg().host, 'ml/tamper', 'b');
      await ok(run(['sign', a, '--key', 'kiln.key', '--signature-format', 'bundle']));
      const repo = repoOf(a);
      const [signed] = (await readBundles(repo, digestOf(a))).bundles;
      assert.ok(signed);
      const bManifest = await repo.getManifest(digestOf(b));
      const subjectB = { mediaType: bManifest.mediaType, digest: digestOf(b), size: bManifest.bytes.length };
      // A's valid bundle attached to B: the signature verifies, the subject is not B.
      await putBundleBlobs(repo, [signed.bytes]);
      await pushReferrers(repo, digestOf(b), [
        bundleReferrer(signed.bytes, subjectB, COSIGN_SIGN_PREDICATE_TYPE, new Date()),
      ]);
      await refused(['verify', b, '--key', 'kiln.pub'], 'SIGNATURE_DIGEST_MISMATCH');
      await fails(v3verify(b), 'cosign v3 verify of a copied bundle');
      // An altered statement (subject rewritten to C) under A's signature: the signature breaks.
      const c = await pushTinyImage(reg().host, 'ml/tamper', 'c');
      const doc = JSON.parse(signed.bytes.toString());
      const stmt = Buffer.from(doc.dsseEnvelope.payload, 'base64').toString();
      doc.dsseEnvelope.payload = Buffer.from(
        stmt.replace(digestOf(a).slice(7), digestOf(c).slice(7)),
      ).toString('base64');
      const forged = Buffer.from(JSON.stringify(doc));
      const cManifest = await repo.getManifest(digestOf(c));
      const subjectC = { mediaType: cManifest.mediaType, digest: digestOf(c), size: cManifest.bytes.length };
      await putBundleBlobs(repo, [forged]);
      await pushReferrers(repo, digestOf(c), [
        bundleReferrer(forged, subjectC, COSIGN_SIGN_PREDICATE_TYPE, new Date()),
      ]);
      await refused(['verify', c, '--key', 'kiln.pub'], 'SIGNATURE_INVALID');
      await fails(v3verify(c), 'cosign v3 verify of an altered bundle');
    });
  });
}
