// in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md):
// {_type, subject:[{name, digest:{sha256}}], predicateType, predicate}. cosign verify-attestation
// matches a subject's sha256 against the image digest (pkg/cosign/verifiers.go
// IntotoSubjectClaimVerifier) and filters on predicateType (pkg/policy/attestation.go).
import { KilnError } from '../errors.ts';

export const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';

export interface Subject {
  name: string;
  digest: Record<string, string>;
}

export interface Statement<P = unknown> {
  _type: string;
  subject: Subject[];
  predicateType: string;
  predicate: P;
}

/** `sha256:<hex>` -> {sha256: hex}; anything else is DIGEST_INVALID. */
export function digestSet(digest: string): Record<string, string> {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) {
    throw new KilnError('DIGEST_INVALID', `"${digest}" is not a sha256 digest (sha256:<64 hex>)`, {
      kind: 'usage',
      hint: 'attest digests, not tags: pass IMAGE@sha256:...',
    });
  }
  return { sha256: m[1] ?? '' };
}

export function makeStatement<P>(
  subject: { name: string; digest: string },
  predicateType: string,
  predicate: P,
): Statement<P> {
  return {
    _type: STATEMENT_V1,
    subject: [{ name: subject.name, digest: digestSet(subject.digest) }],
    predicateType,
    predicate,
  };
}

function invalid(
  code: string,
  message: string,
  hint: string,
  details: Record<string, unknown> = {},
): KilnError {
  return new KilnError(code, message, { kind: 'policy', hint, details });
}

/**
 * Parse a verified envelope body and check it is a statement about `expectedDigest` with
 * `predicateType`. Accepts Statement v0.1 too: `cosign attest` still writes v0.1.
 */
export function checkStatement(body: Uint8Array, expectedDigest: string, predicateType: string): Statement {
  let doc: Partial<Statement> | null;
  try {
    doc = JSON.parse(Buffer.from(body).toString('utf8')) as Partial<Statement> | null;
  } catch {
    throw invalid(
      'ATTESTATION_INVALID',
      'attestation payload is not JSON',
      'the attestation was not made by cosign or kiln',
    );
  }
  if (!doc || typeof doc._type !== 'string' || !doc._type.startsWith('https://in-toto.io/Statement/')) {
    throw invalid(
      'ATTESTATION_INVALID',
      'attestation payload is not an in-toto statement',
      'the attestation was not made by cosign or kiln',
    );
  }
  if (doc.predicateType !== predicateType) {
    throw invalid(
      'ATTESTATION_PREDICATE_MISMATCH',
      `attestation has predicateType ${JSON.stringify(String(doc.predicateType).slice(0, 200))}, expected ${predicateType}`,
      'attest with the SLSA provenance v1 predicate (kiln attest, or cosign attest --type slsaprovenance1)',
      { predicateType: doc.predicateType, expected: predicateType },
    );
  }
  const want = digestSet(expectedDigest)['sha256'];
  const subjects = Array.isArray(doc.subject) ? doc.subject : [];
  if (!subjects.some((s) => s && typeof s === 'object' && s.digest?.['sha256'] === want)) {
    throw invalid(
      'ATTESTATION_SUBJECT_MISMATCH',
      `attestation is valid but its subject is not ${expectedDigest}`,
      'an attestation copied from another image proves nothing about this one; attest this digest',
      { expected: expectedDigest },
    );
  }
  return doc as Statement;
}
