// scan/: the model security gate (docs/scan.md). Bytes in, findings out.
export { type AllowEntry, Policy, splitGlobal } from './policy.ts';
export { toSarif } from './sarif.ts';
export {
  approveReport,
  describeFinding,
  FileScan,
  SCAN_PREDICATE_TYPE,
  Scanner,
  type ScanOptions,
  type ScanSummary,
  scanStream,
  scanSummary,
} from './scanner.ts';
export type { FileKind, FileReport, Finding, Role, RuleId, Severity, Verdict } from './types.ts';
export { verdictOf } from './types.ts';
