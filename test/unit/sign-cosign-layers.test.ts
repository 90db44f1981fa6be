// The .sig/.att images: kiln must build byte-identical manifests and configs from the same layers
// as cosign v2.6.5 pushed (test/fixtures/sign/cosign-v2.6.5), so cosign and registries see the
// same objects whoever signed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  attestationLayer,
  attestationTag,
  cosignImage,
  DSSE_MEDIA_TYPE,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signatureLayer,
  signatureTag,
} from '../../src/sign/cosign-layers.ts';
import { REPO_ROOT } from '../rig/proc.ts';

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'sign', 'cosign-v2.6.5');
const fixture = (name: string): Buffer => readFileSync(join(FIX, name));
const DIGEST = 'sha256:644a2e7bb0c56cf1b693a95abff92b166778db6c46b9942798624a886f27b628';
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('cosign storage objects', () => {
  test('tags are sha256-<hex>.sig and .att', () => {
    assert.equal(
      signatureTag(DIGEST),
      'sha256-644a2e7bb0c56cf1b693a95abff92b166778db6c46b9942798624a886f27b628.sig',
    );
    assert.equal(
      attestationTag(DIGEST),
      'sha256-644a2e7bb0c56cf1b693a95abff92b166778db6c46b9942798624a886f27b628.att',
    );
  });

  test('two signature layers (the second appended) give cosign`s exact manifest and config bytes', () => {
    const manifest = JSON.parse(fixture('sig-manifest.raw').toString());
    const layers = [0, 1].map((i) =>
      signatureLayer(fixture(`sig-layer-${i}.raw`), manifest.layers[i].annotations[SIGNATURE_ANNOTATION]),
    );
    assert.equal(layers[0]?.descriptor.mediaType, SIMPLE_SIGNING_MEDIA_TYPE);
    const img = cosignImage(layers.map((l) => l.descriptor));
    assert.equal(img.config.data.toString(), fixture('sig-config.raw').toString());
    assert.equal(img.manifest.data.toString(), fixture('sig-manifest.raw').toString());
    assert.equal(img.manifest.descriptor.digest, sha(fixture('sig-manifest.raw')));
  });

  test('one signature gives the single-layer image cosign pushes first', () => {
    const manifest = JSON.parse(fixture('sig-manifest.raw').toString());
    const l0 = signatureLayer(
      fixture('sig-layer-0.raw'),
      manifest.layers[0].annotations[SIGNATURE_ANNOTATION],
    );
    const img = cosignImage([l0.descriptor]);
    const cfg = JSON.parse(img.config.data.toString());
    assert.deepEqual(cfg.rootfs.diff_ids, [l0.descriptor.digest]);
    assert.equal(cfg.history.length, 1);
    assert.equal(JSON.parse(img.manifest.data.toString()).config.digest, sha(img.config.data));
  });

  test('an attestation layer gives cosign`s exact .att manifest and config (empty signature annotation, predicateType)', () => {
    const l = attestationLayer(fixture('att-layer-0.raw'), 'https://slsa.dev/provenance/v1');
    assert.equal(l.descriptor.mediaType, DSSE_MEDIA_TYPE);
    assert.deepEqual(l.descriptor.annotations, {
      'dev.cosignproject.cosign/signature': '',
      predicateType: 'https://slsa.dev/provenance/v1',
    });
    const img = cosignImage([l.descriptor]);
    assert.equal(img.config.data.toString(), fixture('att-config.raw').toString());
    assert.equal(img.manifest.data.toString(), fixture('att-manifest.raw').toString());
  });
});
