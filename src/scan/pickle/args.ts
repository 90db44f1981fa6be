import { str, type Value } from './values.ts';

// Argument decoding helpers of the pickle machine (machine.ts): LONG1/LONG4 bytes, text lines,
// and the PyTorch persistent-id schema.

/** LONG1/LONG4: little-endian two's complement (pickle.py `decode_long`); undefined past 16 bytes. */
export function longValue(p: Buffer): number | bigint | undefined {
  if (p.length === 0) return 0;
  if (p.length > 16) return undefined;
  let v = 0n;
  for (let k = p.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(p[k]!);
  if (p[p.length - 1]! & 0x80) v -= 1n << BigInt(p.length * 8);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** GLOBAL lines are UTF-8 (pickle.py and _pickle.c decode them so). */
export function utf8Line(l: string): string {
  return Buffer.from(l, 'latin1').toString('utf8');
}

/** INST lines are ASCII. */
export function asciiLine(l: string): string {
  return l;
}

/** BINSTRING/SHORT_BINSTRING with the default encoding='ASCII'; undefined when it would raise. */
export function asciiOrUndefined(p: Buffer): string | undefined {
  for (const c of p) if (c > 0x7f) return undefined;
  return p.toString('latin1');
}

/** torch.save's persistent id: ('storage', storage_type, key, location, numel). */
export function isTorchStorageId(v: Value): boolean {
  if (v.t !== 'tuple' || !v.items || v.items.length !== 5) return false;
  const [kind, type, key, location] = v.items;
  return str(kind) === 'storage' && type?.t === 'global' && key?.t === 'str' && location?.t === 'str';
}
