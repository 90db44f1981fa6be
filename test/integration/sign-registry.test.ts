// kiln sign / attest / verify against the real registry rig and the REAL cosign (v2.6.5), both
// ways: cosign verifies what kiln writes, kiln verifies what cosign writes, and every kind of
// tampering fails in BOTH with a clear reason from kiln (exit 3).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Digest } from '../../src/oci/digest.ts';
import { Registry } from '../../src/oci/remote/client.ts';
import { RegistryRepository } from '../../src/oci/remote/repository.ts';
import {
  attestationLayer,
  cosignImage,
  SIGNATURE_ANNOTATION,
  signatureLayer,
} from '../../src/sign/cosign-layers.ts';
import { kiln, kilnEnv } from '../rig/cli.ts';
import {
  assertNoSecrets,
  COSIGN,
  cosignIn,
  fails,
  keySecrets,
  ok,
  pushTinyImage,
  type Ran,
  verifyArgs,
  verifyAttestationArgs,
} from '../rig/cosign.ts';
import { tempDir } from '../rig/proc.ts';
import { type RegistryRig, startRegistry } from '../rig/registry.ts';

const KILN_PW = 'kiln-Reg-Pw-5521';
const COSIGN_PW = 'cosign-Reg-Pw-7730';

let reg: RegistryRig;
let work: { path: string; remove: () => Promise<void> };
let cosign: ReturnType<typeof cosignIn>;
let env: NodeJS.ProcessEnv;
let registry: Registry;
const at = (f: string): string => join(work.path, f);
const run = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Ran> =>
  kiln(args, { env: { ...env, ...extra }, cwd: work.path });
const repoOf = (ref: string) =>
  new RegistryRepository(registry, ref.slice(ref.indexOf('/') + 1, ref.indexOf('@')));
const digestOf = (ref: string): Digest => ref.slice(ref.indexOf('@') + 1) as Digest;
const sigTag = (ref: string): string => `${digestOf(ref).replace(':', '-')}.sig`;
const attTag = (ref: string): string => `${digestOf(ref).replace(':', '-')}.att`;

async function layersAt(ref: string, tag: string) {
  const m = await repoOf(ref).getManifest(tag);
  return (
    JSON.parse(m.bytes.toString()) as { layers: { digest: string; annotations?: Record<string, string> }[] }
  ).layers;
}

const cosignVerify = (ref: string, pub = 'kiln.pub') => cosign(verifyArgs(at(pub), ref));
const cosignVerifyAtt = (ref: string, pub = 'kiln.pub') => cosign(verifyAttestationArgs(at(pub), ref));

/** kiln verify must fail with exit 3 and `code`, saying so on stderr and in --json. */
async function refused(args: string[], code: string): Promise<Ran> {
  const r = await run([...args, '--json']);
  assert.equal(r.code, 3, `expected exit 3 (${code}), got ${r.code}:\n${r.stderr}\n${r.stdout}`);
  assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, code, r.stderr);
  assert.match(r.stderr, /kiln: error: .+\n {2}hint: /);
  return r;
}

const PREDICATE = {
  buildDefinition: {
    buildType: 'https://kiln.dev/build-types/test/v1',
    externalParameters: { model: 'models:/iris/1' },
  },
  runDetails: { builder: { id: 'https://kiln.dev/builders/test' } },
};

before(async () => {
  assert.ok(COSIGN, 'cosign path');
  [reg, work] = await Promise.all([startRegistry(), tempDir('sign-registry')]);
  registry = new Registry(reg.host);
  cosign = cosignIn(work.path);
  // This file is about cosign's classic .sig/.att tags (cosign v2.6.5): kiln writes only those here,
  // so its verify reads them too (sign-bundles.test.ts covers the bundle format and both together).
  env = kilnEnv({
    DOCKER_CONFIG: at('docker'),
    HOME: work.path,
    COSIGN_PASSWORD: KILN_PW,
    KILN_SIGNATURE_FORMAT: 'classic',
  });
  await ok(run(['keygen', '--output-key-prefix', 'kiln']), 'kiln keygen');
  await ok(
    cosign(['generate-key-pair', '--output-key-prefix', 'cosign'], COSIGN_PW),
    'cosign generate-key-pair',
  );
  await writeFile(at('predicate.json'), JSON.stringify(PREDICATE));
});

after(async () => {
  await reg?.stop();
  await work?.remove();
});

describe('kiln signs, cosign verifies', () => {
  test('kiln sign IMAGE@DIGEST: stdout is the reference, and `cosign verify --key kiln.pub` accepts the signature', async () => {
    const img = await pushTinyImage(reg.host, 'ml/signed', 'v1');
    const r = await ok(run(['sign', img, '--key', 'kiln.key']), 'kiln sign');
    assert.equal(r.stdout, `${img}\n`);
    const v = await ok(cosignVerify(img), 'cosign verify');
    const [claim] = JSON.parse(v.stdout) as { critical: Record<string, Record<string, string>> }[];
    assert.equal(claim?.critical['image']?.['docker-manifest-digest'], digestOf(img));
    assert.equal(claim?.critical['identity']?.['docker-reference'], `${reg.host}/ml/signed`);
    await ok(run(['verify', img, '--key', 'kiln.pub']), 'kiln verify');
  });

  test('signing twice with one key adds nothing, in kiln and in cosign; another key appends a second signature both accept', async () => {
    const img = await pushTinyImage(reg.host, 'ml/twice', 'v1');
    await ok(run(['sign', img, '--key', 'kiln.key']));
    const again = await ok(run(['sign', img, '--key', 'kiln.key', '--json']));
    assert.equal((JSON.parse(again.stdout) as { signature: { added: boolean } }).signature.added, false);
    // cosign's duplicate detector sees kiln's payload as its own: byte-identical payloads.
    await ok(cosign(['sign', '--key', at('kiln.key'), '--tlog-upload=false', '--yes', img], KILN_PW));
    assert.equal((await layersAt(img, sigTag(img))).length, 1);

    await ok(run(['sign', img, '--key', 'cosign.key'], { COSIGN_PASSWORD: COSIGN_PW }));
    assert.equal((await layersAt(img, sigTag(img))).length, 2);
    await ok(cosignVerify(img, 'kiln.pub'));
    await ok(cosignVerify(img, 'cosign.pub'), 'a key from cosign generate-key-pair signs in kiln');
    const v = await ok(run(['verify', img, '--key', 'cosign.pub', '--json']));
    assert.deepEqual((JSON.parse(v.stdout) as { signatures: unknown }).signatures, {
      format: 'classic',
      tag: sigTag(img),
      verified: 1,
      layers: 2,
    });
  });

  test('kiln attest --predicate: `cosign verify-attestation --type slsaprovenance1` and kiln verify --attestation accept it', async () => {
    const img = await pushTinyImage(reg.host, 'ml/attested', 'v1');
    await ok(run(['sign', img, '--key', 'kiln.key']));
    await ok(run(['attest', img, '--key', 'kiln.key', '--predicate', 'predicate.json']));
    const v = await ok(cosignVerifyAtt(img), 'cosign verify-attestation');
    const env0 = JSON.parse(v.stdout.trim().split('\n')[0]!) as { payload: string };
    const st = JSON.parse(Buffer.from(env0.payload, 'base64').toString()) as Record<string, unknown>;
    assert.deepEqual(st['predicate'], PREDICATE);
    assert.deepEqual(st['subject'], [
      { name: `${reg.host}/ml/attested`, digest: { sha256: digestOf(img).slice(7) } },
    ]);
    await ok(run(['verify', img, '--key', 'kiln.pub', '--attestation']));
  });

  test('kiln attest without --predicate on an image kiln did not bake: exit 2, asks for --predicate, writes nothing', async () => {
    const img = await pushTinyImage(reg.host, 'ml/foreign', 'v1');
    const r = await run(['attest', img, '--key', 'kiln.key']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no kiln annotations/);
    assert.match(r.stderr, /--predicate/);
    assert.equal(await repoOf(img).resolveTag(attTag(img)), undefined);
  });

  test('a tag is refused with exit 2 by sign, attest and verify ("sign digests, not tags"), and nothing is written', async () => {
    const img = await pushTinyImage(reg.host, 'ml/tagonly', 'v1');
    const byTag = `${reg.host}/ml/tagonly:v1`;
    for (const [verb, key] of [
      ['sign', 'kiln.key'],
      ['attest', 'kiln.key'],
      ['verify', 'kiln.pub'],
    ] as const) {
      const r = await run([verb, byTag, '--key', key, '--json']);
      assert.equal(r.code, 2, `${verb}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`${verb} digests, not tags`));
      assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'DIGEST_REQUIRED');
    }
    assert.equal(await repoOf(img).resolveTag(sigTag(img)), undefined);
  });
});

describe('cosign signs, kiln verifies', () => {
  test('kiln verify accepts `cosign sign --key cosign.key --tlog-upload=false` and `cosign attest`; rejects them under kiln.pub', async () => {
    const img = await pushTinyImage(reg.host, 'ml/by-cosign', 'v1');
    await ok(cosign(['sign', '--key', at('cosign.key'), '--tlog-upload=false', '--yes', img], COSIGN_PW));
    await ok(
      cosign(
        [
          'attest',
          '--key',
          at('cosign.key'),
          '--tlog-upload=false',
          '--yes',
          '--type',
          'slsaprovenance1',
          '--predicate',
          at('predicate.json'),
          img,
        ],
        COSIGN_PW,
      ),
    );
    const v = await ok(run(['verify', img, '--key', 'cosign.pub', '--attestation', '--json']));
    const out = JSON.parse(v.stdout) as {
      signatures: { verified: number };
      attestation: { verified: number };
    };
    assert.equal(out.signatures.verified, 1);
    assert.equal(out.attestation.verified, 1);
    await refused(['verify', img, '--key', 'kiln.pub'], 'SIGNATURE_INVALID');
  });
});

describe('tampering fails in kiln verify (exit 3, with the reason) and in cosign', () => {
  let a: string; // signed and attested by kiln
  let b: string; // same repository, another digest
  before(async () => {
    a = await pushTinyImage(reg.host, 'ml/tamper', 'a');
    b = await pushTinyImage(reg.host, 'ml/tamper', 'b');
    await ok(run(['sign', a, '--key', 'kiln.key']));
    await ok(run(['attest', a, '--key', 'kiln.key', '--predicate', 'predicate.json']));
  });

  test('no .sig tag: SIGNATURE_MISSING; cosign finds no signatures', async () => {
    const r = await refused(['verify', b, '--key', 'kiln.pub'], 'SIGNATURE_MISSING');
    assert.match(r.stderr, /has no signatures/);
    const c = await fails(cosignVerify(b));
    assert.match(c.stderr, /no signatures found/);
  });

  test('the wrong public key: SIGNATURE_INVALID; cosign refuses too', async () => {
    const r = await refused(['verify', a, '--key', 'cosign.pub'], 'SIGNATURE_INVALID');
    assert.match(r.stderr, /cosign\.pub/);
    const c = await fails(cosignVerify(a, 'cosign.pub'));
    assert.match(c.stderr, /no matching signatures: invalid signature/);
  });

  test("another image's signature copied to this digest's tag: SIGNATURE_DIGEST_MISMATCH; cosign refuses", async () => {
    const repo = repoOf(a);
    const sig = await repo.getManifest(sigTag(a));
    await repo.putManifest(sig, sigTag(b));
    const r = await refused(['verify', b, '--key', 'kiln.pub'], 'SIGNATURE_DIGEST_MISMATCH');
    assert.match(r.stderr, new RegExp(`signs ${digestOf(a)}, not ${digestOf(b)}`));
    const c = await fails(cosignVerify(b));
    assert.match(c.stderr, /invalid or missing digest in claim/);
  });

  test('one flipped byte in the signed payload: SIGNATURE_INVALID; cosign refuses', async () => {
    const c = await pushTinyImage(reg.host, 'ml/tamper', 'c');
    await ok(run(['sign', c, '--key', 'kiln.key']));
    const repo = repoOf(c);
    const [layer] = await layersAt(c, sigTag(c));
    const payload = Buffer.from(
      await repo.readBlob({ mediaType: '', digest: layer!.digest as Digest, size: 0 }),
    );
    const at0 = payload.indexOf('cosign container');
    payload[at0] = payload[at0]! ^ 0x01; // "cosign" -> "bosign"
    const forged = signatureLayer(payload, layer!.annotations![SIGNATURE_ANNOTATION]!);
    await pushCosignImage(repo, sigTag(c), forged);
    await refused(['verify', c, '--key', 'kiln.pub'], 'SIGNATURE_INVALID');
    assert.match((await fails(cosignVerify(c))).stderr, /no matching signatures: invalid signature/);
  });

  test('no .att tag: ATTESTATION_MISSING (the signature alone is fine); cosign verify-attestation refuses', async () => {
    const d = await pushTinyImage(reg.host, 'ml/tamper', 'd');
    await ok(run(['sign', d, '--key', 'kiln.key']));
    await ok(run(['verify', d, '--key', 'kiln.pub']));
    await refused(['verify', d, '--key', 'kiln.pub', '--attestation'], 'ATTESTATION_MISSING');
    assert.match((await fails(cosignVerifyAtt(d))).stderr, /no matching attestations/);
  });

  test('an altered statement inside the attestation: ATTESTATION_INVALID; cosign refuses', async () => {
    const e = await pushTinyImage(reg.host, 'ml/tamper', 'e');
    await ok(run(['sign', e, '--key', 'kiln.key']));
    await ok(run(['attest', e, '--key', 'kiln.key', '--predicate', 'predicate.json']));
    const repo = repoOf(e);
    const [layer] = await layersAt(e, attTag(e));
    const envelope = JSON.parse(
      (await repo.readBlob({ mediaType: '', digest: layer!.digest as Digest, size: 0 })).toString(),
    ) as { payload: string };
    const statement = Buffer.from(envelope.payload, 'base64')
      .toString()
      .replace('models:/iris/1', 'models:/iris/9');
    envelope.payload = Buffer.from(statement).toString('base64');
    await pushCosignImage(
      repo,
      attTag(e),
      attestationLayer(Buffer.from(JSON.stringify(envelope)), 'https://slsa.dev/provenance/v1'),
    );
    const r = await refused(['verify', e, '--key', 'kiln.pub', '--attestation'], 'ATTESTATION_INVALID');
    assert.match(r.stderr, /SIGNATURE_INVALID/);
    assert.match((await fails(cosignVerifyAtt(e))).stderr, /accepted signatures do not match threshold/);
  });

  test("another image's attestation copied to this digest's tag: ATTESTATION_INVALID (subject); cosign refuses", async () => {
    const f = await pushTinyImage(reg.host, 'ml/tamper', 'f');
    await ok(run(['sign', f, '--key', 'kiln.key']));
    const repo = repoOf(a);
    await repo.putManifest(await repo.getManifest(attTag(a)), attTag(f));
    const r = await refused(['verify', f, '--key', 'kiln.pub', '--attestation'], 'ATTESTATION_INVALID');
    assert.match(r.stderr, /ATTESTATION_SUBJECT_MISMATCH/);
    assert.match((await fails(cosignVerifyAtt(f))).stderr, /no matching subject digest/);
  });
});

test('the private key never leaves kiln: not in the registry, not in output, not on a wrong password', async () => {
  const img = await pushTinyImage(reg.host, 'ml/secret', 'v1');
  const outputs: string[] = [];
  for (const args of [
    ['sign', img, '--key', 'kiln.key', '--verbose'],
    ['attest', img, '--key', 'kiln.key', '--predicate', 'predicate.json', '--verbose', '--json'],
  ]) {
    const r = await ok(run(args));
    outputs.push(r.stdout, r.stderr);
  }
  const wrong = await run(['sign', img, '--key', 'kiln.key', '--verbose', '--json'], {
    COSIGN_PASSWORD: `${KILN_PW}-wrong`,
  });
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.equal((JSON.parse(wrong.stdout) as { error: { code: string } }).error.code, 'KEY_PASSWORD_WRONG');
  outputs.push(wrong.stdout, wrong.stderr);
  const secrets = [...(await keySecrets(at('kiln.key'), KILN_PW)), `${KILN_PW}-wrong`];
  const scanned = await assertNoSecrets(secrets, [reg.dir], outputs);
  assert.ok(scanned > 10, `scanned only ${scanned} registry files`);
});

async function pushCosignImage(
  repo: RegistryRepository,
  tag: string,
  layer: ReturnType<typeof signatureLayer>,
): Promise<void> {
  const img = cosignImage([layer.descriptor]);
  await repo.putBlob(layer.data, layer.descriptor.mediaType);
  await repo.putBlob(img.config.data, img.config.descriptor.mediaType);
  await repo.putManifest(
    {
      bytes: img.manifest.data,
      mediaType: img.manifest.descriptor.mediaType,
      digest: img.manifest.descriptor.digest as Digest,
    },
    tag,
  );
}
