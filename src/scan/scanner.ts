import { createHash, type Hash } from 'node:crypto';
import { KILN_VERSION } from '../version.ts';
import { ContentScan, type ScanContext } from './content.ts';
import { Policy, type PolicyOptions } from './policy.ts';
import type { FileReport, Finding, FindingSink, Role } from './types.ts';
import { verdictOf } from './types.ts';

// The scanner's front door: one FileScan per file, fed the file's bytes as they stream (from
// MLflow into the layer, from disk, from an image layer), producing a FileReport. Nothing here
// reads a file or a network: callers push bytes.

export interface ScanOptions extends PolicyOptions {
  /** sha256 hex digests of files approved whatever they hold (kiln.yaml build.scan.approve). */
  approve?: readonly string[];
  /** A prepared policy (shared across files); built from the options when absent. */
  policy?: Policy;
  /**
   * false: the caller already hashes the bytes (the bake's tar does) and applies approvals with
   * `approveReport` once it knows the sha256; the report's sha256 is empty until then.
   */
  hash?: boolean;
}

const MAX_FINDINGS = 200;

export class FileScan {
  private readonly findings: Finding[] = [];
  private readonly globals = new Map<string, Set<string>>();
  private readonly hash: Hash | undefined;
  private readonly root: ContentScan;
  private size = 0;
  private dropped = 0;

  readonly path: string;
  private readonly opts: ScanOptions & { policy: Policy };

  constructor(path: string, opts: ScanOptions & { policy: Policy }) {
    this.path = path;
    this.opts = opts;
    this.hash = opts.hash === false ? undefined : createHash('sha256');
    const ctx: ScanContext = { policy: opts.policy, sinkFor: (member) => this.sinkFor(member) };
    this.root = new ContentScan(ctx, [], 0);
  }

  private sinkFor(member: string[]): FindingSink {
    return {
      add: (f) => {
        if (this.findings.length >= MAX_FINDINGS) {
          this.dropped++;
          return;
        }
        this.findings.push({ file: this.path, ...(member.length > 0 ? { member } : {}), ...f });
      },
      global: (name: string, role: Role | 'import') => {
        const roles = this.globals.get(name) ?? new Set<string>();
        roles.add(role === 'import' ? 'argument' : role);
        this.globals.set(name, roles);
      },
    };
  }

  /** Feed the next bytes; await it before feeding more (backpressure for compressed members). */
  async write(chunk: Buffer): Promise<void> {
    this.size += chunk.length;
    this.hash?.update(chunk);
    await this.root.write(chunk);
  }

  async end(): Promise<FileReport> {
    await this.root.end();
    const sha256 = this.hash ? this.hash.digest('hex') : '';
    if (this.dropped > 0) {
      this.findings.push({
        file: this.path,
        rule: 'LIMIT_EXCEEDED',
        severity: 'info',
        message: `${this.dropped} more findings not listed`,
        fix: 'fix the findings above first',
      });
    }
    const report: FileReport = {
      file: this.path,
      size: this.size,
      sha256,
      kind: this.root.kind,
      verdict: verdictOf(this.findings),
      findings: this.findings,
      globals: [...this.globals.entries()].map(([g, r]) => `${g} (${[...r].sort().join(',')})`).sort(),
    };
    return sha256 ? approveReport(report, sha256, this.opts.approve ?? []) : report;
  }
}

/** Record the file's sha256 and waive its findings when that digest is approved (build.scan.approve). */
export function approveReport(report: FileReport, sha256: string, approve: readonly string[]): FileReport {
  const approved = approve.some((a) => a.replace(/^sha256:/, '').toLowerCase() === sha256);
  if (!approved) return { ...report, sha256 };
  const findings: Finding[] = [
    {
      file: report.file,
      rule: 'APPROVED',
      severity: 'info',
      message: `approved by sha256 ${sha256} in build.scan.approve (${report.findings.length} findings waived)`,
      fix: 'remove the approval to scan this file again',
    },
    ...report.findings.map((f) => ({ ...f, severity: 'info' as const })),
  ];
  return { ...report, sha256, findings, verdict: verdictOf(findings), approved: true };
}

/** A scanner with one policy for many files. */
export class Scanner {
  readonly policy: Policy;
  private readonly opts: ScanOptions;

  constructor(opts: ScanOptions = {}) {
    this.opts = opts;
    this.policy = opts.policy ?? new Policy(opts);
  }
  file(path: string): FileScan {
    return new FileScan(path, { ...this.opts, policy: this.policy });
  }
}

/** Scan a whole async byte stream (a file, an HTTP body). */
export async function scanStream(
  scanner: Scanner,
  path: string,
  body: AsyncIterable<Buffer>,
): Promise<FileReport> {
  const f = scanner.file(path);
  for await (const chunk of body) await f.write(chunk);
  return f.end();
}

export interface ScanSummary {
  scanner: { name: 'kiln-scan'; version: string };
  packs: { pack: string; libraries: Record<string, string> }[];
  verdict: FileReport['verdict'];
  files: {
    path: string;
    sha256: string;
    kind: string;
    verdict: FileReport['verdict'];
    findings: number;
    approved?: boolean;
  }[];
}

/** The scan result as a JSON predicate (provenance, attestations, MLflow tags, kiln serve). */
export function scanSummary(policy: Policy, reports: readonly FileReport[]): ScanSummary {
  const verdict = reports.some((r) => r.verdict === 'block')
    ? 'block'
    : reports.some((r) => r.verdict === 'warn')
      ? 'warn'
      : 'pass';
  return {
    scanner: { name: 'kiln-scan', version: KILN_VERSION },
    packs: policy.packs.map((p) => ({ pack: p.pack, libraries: p.libraries })),
    verdict,
    files: reports.map((r) => ({
      path: r.file,
      sha256: r.sha256,
      kind: r.kind,
      verdict: r.verdict,
      findings: r.findings.filter((f) => f.severity !== 'info').length,
      ...(r.approved ? { approved: true } : {}),
    })),
  };
}

/** The predicate type of the scan attestation (for sign/ and issue 14's attestation). */
export const SCAN_PREDICATE_TYPE = 'https://kiln.dev/attestations/model-scan/v1';

/** One line for a finding: where, what, why. */
export function describeFinding(f: Finding): string {
  const where = [f.file, ...(f.member ?? [])].join(' > ');
  const at = f.offset !== undefined ? ` @${f.offset}` : '';
  const op = f.opcode ? ` ${f.opcode}` : '';
  const g = f.global ? ` ${f.global}` : '';
  const role = f.role ? ` (${f.role})` : '';
  return `${where}${at}${op}${g}${role}: ${f.rule}: ${f.message}`;
}
