import { KILN_VERSION } from '../version.ts';
import type { FileReport, Finding } from './types.ts';

// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html) for code-scanning
// UIs: one result per finding, located by file and byte offset (archive members as logical
// locations), rule ids stable (types.ts RuleId).

const LEVEL: Record<Finding['severity'], 'error' | 'warning' | 'note'> = {
  block: 'error',
  warn: 'warning',
  info: 'note',
};

export function toSarif(reports: readonly FileReport[]): object {
  const findings = reports.flatMap((r) => r.findings);
  const rules = [...new Set(findings.map((f) => f.rule))].sort();
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'kiln-scan',
            version: KILN_VERSION,
            informationUri: 'https://github.com/kiln/kiln/blob/main/docs/scan.md',
            rules: rules.map((id) => ({
              id,
              name: id,
              shortDescription: { text: id.toLowerCase().replace(/_/g, ' ') },
            })),
          },
        },
        artifacts: reports.map((r) => ({
          location: { uri: r.file },
          length: r.size,
          hashes: { 'sha-256': r.sha256 },
        })),
        results: findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: rules.indexOf(f.rule),
          level: LEVEL[f.severity],
          message: { text: `${f.message}. Fix: ${f.fix}` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: f.file },
                ...(f.offset !== undefined && !f.member?.length
                  ? { region: { byteOffset: f.offset, byteLength: 1 } }
                  : {}),
              },
              ...(f.member?.length
                ? {
                    logicalLocations: [
                      { fullyQualifiedName: [f.file, ...f.member].join('/'), kind: 'member' },
                    ],
                  }
                : {}),
            },
          ],
          properties: {
            ...(f.offset !== undefined ? { offset: f.offset } : {}),
            ...(f.opcode ? { opcode: f.opcode } : {}),
            ...(f.global ? { global: f.global } : {}),
            ...(f.role ? { role: f.role } : {}),
          },
        })),
      },
    ],
  };
}
