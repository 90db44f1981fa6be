// DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol.md and envelope.md) as
// cosign writes them for attestations: sigstore/sigstore pkg/signature/dsse WrapSigner signs
// PAE(payloadType, body) and emits {"payloadType","payload":std-base64,"signatures":[{"keyid":"",
// "sig":std-base64}]}. keyid stays "": go-securesystemslib's verifier skips a signature whose
// non-empty keyid differs from the one it computes for the key.
import { KilnError } from '../errors.ts';
import type { SigningKey, VerifyKey } from './keys.ts';
import { decodeBase64, signBytes, verifyBytes } from './signer.ts';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface DsseSignature {
  keyid: string;
  sig: string;
}

export interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: DsseSignature[];
}

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body; lengths in bytes. */
export function pae(payloadType: string, body: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

export function signDsse(key: SigningKey, payloadType: string, body: Uint8Array): DsseEnvelope {
  const sig = signBytes(key, pae(payloadType, body));
  return {
    payloadType,
    payload: Buffer.from(body).toString('base64'),
    signatures: [{ keyid: '', sig: sig.toString('base64') }],
  };
}

/** The envelope's bytes in Go's field order (the .att layer blob). */
export function serializeDsse(env: DsseEnvelope): Buffer {
  const sigs = env.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig }));
  return Buffer.from(
    JSON.stringify({ payloadType: env.payloadType, payload: env.payload, signatures: sigs }),
  );
}

function envelopeInvalid(problem: string): KilnError {
  return new KilnError('DSSE_INVALID', `attestation envelope ${problem}`, {
    kind: 'policy',
    hint: 'the .att layer was not written by cosign or kiln, or was altered',
  });
}

export function parseDsse(bytes: Uint8Array): DsseEnvelope {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw envelopeInvalid('is not JSON');
  }
  const d = doc as Partial<Record<keyof DsseEnvelope, unknown>> | null;
  if (
    !d ||
    typeof d.payloadType !== 'string' ||
    typeof d.payload !== 'string' ||
    !Array.isArray(d.signatures)
  ) {
    throw envelopeInvalid('lacks payloadType, payload or signatures');
  }
  const signatures = d.signatures.map((s: unknown) => {
    const r = (s ?? {}) as Record<string, unknown>;
    return {
      keyid: typeof r['keyid'] === 'string' ? r['keyid'] : '',
      sig: typeof r['sig'] === 'string' ? r['sig'] : '',
    };
  });
  return { payloadType: d.payloadType, payload: d.payload, signatures };
}

/**
 * Verify that at least one signature is `key`'s over PAE(payloadType, body) and that the type is
 * `expectedType` (cosign requires application/vnd.in-toto+json); returns the body bytes.
 */
export function verifyDsse(key: VerifyKey, env: DsseEnvelope, expectedType = IN_TOTO_PAYLOAD_TYPE): Buffer {
  // Type first, as cosign does (pkg/cosign/verify.go verifyOCIAttestation).
  if (env.payloadType !== expectedType) {
    throw envelopeInvalid(
      `has payloadType ${JSON.stringify(env.payloadType.slice(0, 100))}, expected "${expectedType}"`,
    );
  }
  const body = decodeBase64(env.payload);
  if (!body) throw envelopeInvalid('payload is not base64');
  if (env.signatures.length === 0) throw envelopeInvalid('has no signatures');
  const message = pae(env.payloadType, body);
  const ok = env.signatures.some((s) => {
    const der = decodeBase64(s.sig);
    return der !== undefined && verifyBytes(key, message, der);
  });
  if (!ok) {
    throw new KilnError(
      'SIGNATURE_INVALID',
      `attestation signature does not verify with public key ${key.source}`,
      {
        kind: 'policy',
        hint: 'the attestation was altered, or it was signed by a different key',
        details: { key: key.source },
      },
    );
  }
  return body;
}
