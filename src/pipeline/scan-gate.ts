import { createHash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import type { Config, ScanConfig } from '../config/schema.ts';
import { KilnError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import {
  type AllowEntry,
  approveReport,
  describeFinding,
  type FileReport,
  type FileScan,
  Scanner,
  type ScanSummary,
  scanSummary,
} from '../scan/index.ts';

// The gate in the bake (DESIGN.md `fetch+scan`): each model file's bytes go through a tee on
// their way from MLflow into the layer tar, so the scan needs no second download, no temp copy
// and no memory in proportion to the model. Once the layer is stored and before any manifest,
// tag or signature exists, `afterLayer` decides: a blocked model fails the bake with exit 3.

export type ScanMode = ScanConfig['mode'];

export interface ScanSettings {
  mode: ScanMode;
  allow: AllowEntry[];
  approve: string[];
}

/** build.scan, then the model's own scan section (mode overrides; allow/approve add), then --scan. */
export function scanSettings(config: Config, modelName: string | undefined, flag?: ScanMode): ScanSettings {
  const b = config.build.scan;
  const m = modelName ? config.models.find((x) => x.name === modelName)?.scan : undefined;
  const entries = [...(b?.allow ?? []), ...(m?.allow ?? [])];
  return {
    mode: flag ?? m?.mode ?? b?.mode ?? 'block',
    allow: entries.map((e) => (typeof e === 'string' ? { global: e } : { global: e.global, roles: e.roles })),
    approve: [...(b?.approve ?? []), ...(m?.approve ?? [])],
  };
}

export class ScanGate {
  readonly settings: ScanSettings;
  private readonly scanner: Scanner;
  private done: FileReport[] = [];
  private readonly log: Logger;

  constructor(settings: ScanSettings, log: Logger = silentLogger) {
    this.settings = settings;
    this.log = log;
    // The bake's tar already hashes every file: the scan does not hash again (approvals are
    // applied in afterLayer with the tar's sha256).
    this.scanner = new Scanner({ allow: settings.allow, approve: settings.approve, hash: false });
  }

  /** What the scan policy contributes to a build fingerprint: a bake under another policy is another bake. */
  get fingerprint(): string {
    const packs = this.scanner.policy.packs.map((p) => `${p.pack}:${JSON.stringify(p.libraries)}`);
    const canonical = JSON.stringify({ ...this.settings, packs });
    return `${this.settings.mode}:${createHash('sha256').update(canonical).digest('hex').slice(0, 16)}`;
  }

  /** Tee a file's byte stream into the scanner; bytes pass on unchanged, with backpressure. */
  wrap(path: string, body: Readable): Readable {
    if (this.settings.mode === 'off') return body;
    const scan: FileScan = this.scanner.file(path);
    const tee = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        scan.write(chunk).then(() => cb(null, chunk), cb);
      },
      flush: (cb) => {
        scan.end().then((r) => {
          this.done.push(r);
          cb();
        }, cb);
      },
    });
    body.on('error', (e) => tee.destroy(e));
    return body.pipe(tee);
  }

  get reports(): readonly FileReport[] {
    return this.done;
  }

  summary(): ScanSummary | undefined {
    if (this.settings.mode === 'off') return undefined;
    return scanSummary(this.scanner.policy, this.done);
  }

  /** After the layer is stored (with the tar's per-file sha256, layer paths): block (exit 3) or warn. */
  async afterLayer(files: readonly { path: string; sha256: string }[] = []): Promise<void> {
    if (this.settings.mode === 'off') return;
    this.done = this.done.map((r) => {
      const f = files.find((x) => x.path === r.file || x.path.endsWith(`/${r.file}`));
      return f ? approveReport(r, f.sha256, this.settings.approve) : r;
    });
    const findings = this.done.flatMap((r) => r.findings.filter((f) => f.severity !== 'info'));
    const blocked = this.done.filter((r) => r.verdict === 'block');
    for (const f of findings)
      if (f.severity === 'warn' || this.settings.mode === 'warn')
        this.log.warn(`scan: ${describeFinding(f)}`);
    if (blocked.length === 0) {
      this.log.info(`scan: ${this.done.length} files passed (${findings.length} warnings)`);
      return;
    }
    if (this.settings.mode === 'warn') {
      this.log.warn(`scan: ${blocked.length} files would be blocked; going on because scan mode is warn`);
      return;
    }
    throw scanBlocked(this.done);
  }
}

export function scanBlocked(
  reports: readonly FileReport[],
  consequence = 'nothing was tagged, signed or deployed',
): KilnError {
  const blocking = reports.flatMap((r) => r.findings.filter((f) => f.severity === 'block'));
  const first = blocking[0]!;
  const lines = blocking.slice(0, 10).map((f) => `  ${describeFinding(f)}`);
  if (blocking.length > 10) lines.push(`  ... and ${blocking.length - 10} more`);
  return new KilnError(
    'SCAN_BLOCKED',
    `the model security scan blocked ${reports.filter((r) => r.verdict === 'block').length} file(s); ${consequence}:\n${lines.join('\n')}`,
    {
      kind: 'policy',
      hint: first.fix,
      details: {
        findings: blocking,
        files: reports.map((r) => ({ file: r.file, sha256: r.sha256, kind: r.kind, verdict: r.verdict })),
      },
    },
  );
}

/** The MLflow tag value: `blocked: <first finding>` or `passed` / `warned: N`. */
export function scanTagValue(reports: readonly FileReport[], mode: ScanMode = 'block'): string {
  const block = reports.flatMap((r) => r.findings.filter((f) => f.severity === 'block'));
  if (block.length > 0)
    return `${mode === 'warn' ? 'warned' : 'blocked'}: ${describeFinding(block[0]!)}`.slice(0, 4900);
  const warn = reports.flatMap((r) => r.findings.filter((f) => f.severity === 'warn'));
  return warn.length > 0 ? `passed with ${warn.length} warnings` : 'passed';
}
