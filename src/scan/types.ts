// The scanner's vocabulary: what a finding says, and the verdict it adds up to.
// Bytes in, findings out: nothing here knows MLflow, OCI or KServe (DESIGN.md `scan/`).

/** What the unpickler does with a global (docs/scan.md "Roles"). */
export type Role = 'reduce' | 'newobj' | 'argument' | 'build';

/** block stops the bake; warn is printed and recorded; info is context only. */
export type Severity = 'block' | 'warn' | 'info';

/** Stable rule ids: tests and the SARIF output name them, so never rename one. */
export type RuleId =
  | 'UNKNOWN_GLOBAL' // a global outside the allowlist for the role it plays
  | 'KNOWN_CODE_EXECUTION' // a global that is a known code-execution primitive (os.system, eval, ...)
  | 'EMBEDDED_CODE' // cloudpickle by-value code (functions or classes pickled by value)
  | 'COMPUTED_CALLABLE' // REDUCE/NEWOBJ/BUILD on something that is not a resolved global
  | 'COMPUTED_NAME' // STACK_GLOBAL operands that are not string constants
  | 'BUILD_ON_GLOBAL' // BUILD mutating a class, module or function
  | 'PARSER_DIFFERENTIAL' // CPython's C unpickler and pickle.py would read the bytes differently
  | 'PICKLE_MALFORMED' // the stream fails to load (everything before the failure still ran)
  | 'PICKLE_TRUNCATED' // no STOP before the end of the stream
  | 'TRAILING_DATA' // bytes after STOP that are not another pickle
  | 'EXTENSION_REGISTRY' // EXT1/2/4
  | 'OUT_OF_BAND_BUFFER' // NEXT_BUFFER/READONLY_BUFFER
  | 'PERSISTENT_ID' // PERSID/BINPERSID outside PyTorch's storage schema
  | 'ZIP_MISMATCH' // local headers and central directory disagree, or data outside the archive
  | 'ZIP_DUPLICATE_NAME' // duplicate or case-colliding member names
  | 'ZIP_UNSUPPORTED' // encryption, unknown compression, data descriptors without sizes
  | 'ZIP_CRC' // CRC-32 mismatch
  | 'OPAQUE_CONTAINER' // 7z, bzip2, xz, lz4, tar, HDF5...: cannot be looked into
  | 'NESTING_TOO_DEEP'
  | 'LIMIT_EXCEEDED' // memo, stack, line or decompression budget exceeded
  | 'SAFETENSORS_INVALID'
  | 'NPY_INVALID'
  | 'ONNX_EXTERNAL_DATA' // external data outside the model folder
  | 'UNSCANNED' // a binary file of no known format
  | 'APPROVED'; // a file approved by sha256 (info)

export interface Finding {
  rule: RuleId;
  severity: Severity;
  /** Path of the file as given to the scanner (artifact path, image path or local path). */
  file: string;
  /** Archive member chain inside `file` (outermost first), e.g. ["archive/data.pkl"]. */
  member?: string[] | undefined;
  /** Byte offset inside the innermost member (or the file). */
  offset?: number | undefined;
  /** The opcode that did it (pickle), e.g. "REDUCE". */
  opcode?: string | undefined;
  /** `module.qualname` of the global involved. */
  global?: string | undefined;
  role?: Role | undefined;
  /** Why this matters, one line. */
  message: string;
  /** What to do about it, one line. */
  fix: string;
}

/** The content type a file was recognised as (by its bytes, never by its name). */
export type FileKind =
  | 'pickle'
  | 'joblib'
  | 'zip'
  | 'pytorch'
  | 'npy'
  | 'npz'
  | 'safetensors'
  | 'onnx'
  | 'compressed'
  | 'opaque'
  | 'text'
  | 'binary'
  | 'empty';

export type Verdict = 'pass' | 'warn' | 'block';

export interface FileReport {
  file: string;
  size: number;
  sha256: string;
  kind: FileKind;
  verdict: Verdict;
  findings: Finding[];
  /** Globals the file resolved, with the roles they played (for the report and the provenance). */
  globals: string[];
  /** True when the file's sha256 is approved in the configuration. */
  approved?: boolean;
}

export function verdictOf(findings: readonly Finding[]): Verdict {
  if (findings.some((f) => f.severity === 'block')) return 'block';
  if (findings.some((f) => f.severity === 'warn')) return 'warn';
  return 'pass';
}

/** Where a sink is in the file tree: the file and the archive-member chain. */
export interface Location {
  file: string;
  member: string[];
}

/** Receives findings as the scan runs (offsets are relative to the innermost member). */
export interface FindingSink {
  add(f: Omit<Finding, 'file' | 'member'>): void;
  /** Records a resolved global and the role it played. */
  global(name: string, role: Role | 'import'): void;
}
