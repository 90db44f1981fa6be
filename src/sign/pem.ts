// PEM armour as Go's encoding/pem writes and reads it (cosign keys are PEM: see
// sigstore/cosign pkg/cosign/keys.go). Only what kiln needs: one block, no headers.

export interface PemBlock {
  type: string;
  bytes: Buffer;
  /** RFC 1421 headers (`Proc-Type: 4,ENCRYPTED` marks an OpenSSL-encrypted legacy key). */
  headers: Record<string, string>;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The first PEM block in `text` (like Go's pem.Decode), or undefined when there is none. */
export function decodePem(text: string): PemBlock | undefined {
  const m = BLOCK.exec(text);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  const body: string[] = [];
  for (const raw of (m[2] ?? '').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (body.length === 0 && colon > 0) {
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
      continue;
    }
    body.push(line);
  }
  const b64 = body.join('');
  // Buffer.from(.., 'base64') skips characters it does not know; a damaged file must not decode.
  if (!B64.test(b64) || b64.length % 4 !== 0) return undefined;
  return { type: m[1] ?? '', bytes: Buffer.from(b64, 'base64'), headers };
}

/** Go's pem.EncodeToMemory: 64-column base64 lines, trailing newline. */
export function encodePem(type: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}${lines.length ? '\n' : ''}-----END ${type}-----\n`;
}
