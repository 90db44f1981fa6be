import { isOpcode } from './pickle/opcodes.ts';

// File type by content, never by name (research §7.1): a pickle renamed `.bin`, a zip named
// `.pt`, a 7z named `.pth` are all recognised by their first bytes.

export type Sniffed =
  | 'pickle' // PROTO 2-5
  | 'maybe-pickle' // starts with an opcode: protocol 0/1, proved or disproved by running it
  | 'zip'
  | 'npy'
  | 'safetensors'
  | 'zlib'
  | 'gzip'
  | 'zstd'
  | 'onnx'
  | 'text'
  | 'binary'
  | 'empty'
  | { opaque: string };

/** Bytes the sniffer wants before deciding (fewer at end of file). */
export const SNIFF_BYTES = 512;

const starts = (b: Buffer, sig: number[]): boolean => sig.every((x, i) => b[i] === x);

export function sniff(b: Buffer): Sniffed {
  if (b.length === 0) return 'empty';
  if (b[0] === 0x80 && b.length > 1 && b[1]! <= 5) return 'pickle';
  if (starts(b, [0x50, 0x4b, 0x03, 0x04]) || starts(b, [0x50, 0x4b, 0x05, 0x06])) return 'zip';
  if (starts(b, [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])) return 'npy';
  if (starts(b, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return { opaque: '7z archive' };
  if (starts(b, [0x42, 0x5a, 0x68])) return { opaque: 'bzip2 stream' };
  if (starts(b, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return { opaque: 'xz stream' };
  if (starts(b, [0x5d, 0x00, 0x00])) return { opaque: 'lzma stream' };
  if (starts(b, [0x04, 0x22, 0x4d, 0x18])) return { opaque: 'lz4 frame' };
  if (starts(b, [0x52, 0x61, 0x72, 0x21])) return { opaque: 'rar archive' };
  if (starts(b, [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]))
    return { opaque: 'HDF5 file (Keras .h5 can hold Lambda bytecode)' };
  if (starts(b, [0x5a, 0x46])) return { opaque: 'old joblib ZF container' };
  if (b.length >= 262 && b.toString('latin1', 257, 262) === 'ustar') return { opaque: 'tar archive' };
  if (starts(b, [0x1f, 0x8b])) return 'gzip';
  if (starts(b, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  if (b.length >= 2 && (b[0]! & 0x0f) === 8 && b[0]! >> 4 <= 7 && ((b[0]! << 8) | b[1]!) % 31 === 0)
    return 'zlib';
  if (isSafetensors(b)) return 'safetensors';
  if (isOnnx(b)) return 'onnx';
  if (isOpcode(b[0]!)) return 'maybe-pickle';
  return looksText(b) ? 'text' : 'binary';
}

function isSafetensors(b: Buffer): boolean {
  if (b.length < 10) return false;
  const n = b.readBigUInt64LE(0);
  return n > 1n && n <= 100_000_000n && b[8] === 0x7b && (b[9] === 0x22 || b[9] === 0x20 || b[9] === 0x7d);
}

/** ONNX ModelProto: field 1 ir_version (varint, tag 0x08), then producer/graph/opset fields. */
function isOnnx(b: Buffer): boolean {
  return (
    b.length > 4 &&
    b[0] === 0x08 &&
    b[1]! > 0 &&
    b[1]! < 0x20 &&
    [0x12, 0x1a, 0x22, 0x2a, 0x32, 0x3a, 0x40, 0x42, 0x72].includes(b[2]!)
  );
}

export function looksText(b: Buffer): boolean {
  for (const c of b) if (c === 0 || c < 0x09 || (c > 0x0d && c < 0x20 && c !== 0x1b)) return false;
  return true;
}
