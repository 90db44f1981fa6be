// The gate's two promises on a corpus the real libraries write at test time: every ordinary
// model gives zero findings, every crafted file (one per evasion class, docs/scan.md) is blocked.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { after, before, test } from 'node:test';
import { describeFinding, type FileReport, Scanner, scanStream } from '../../src/scan/index.ts';
import { buildScanCorpus, type ScanCorpus } from '../rig/scan-corpus.ts';

let corpus: ScanCorpus;
const scanner = new Scanner();
const reports = new Map<string, FileReport>();
const scan = async (path: string): Promise<FileReport> => {
  // Small chunks: every opcode, header and zip record crosses chunk boundaries somewhere.
  const r = await scanStream(scanner, basename(path), createReadStream(path, { highWaterMark: 4093 }));
  reports.set(basename(path), r);
  return r;
};

before(async () => {
  corpus = await buildScanCorpus();
  for (const f of [...corpus.benign, ...corpus.malicious]) await scan(f);
});
after(() => corpus?.remove());

test('ordinary models (sklearn, xgboost, lightgbm, pandas, numpy; pickle p0-p5, cloudpickle, joblib, skops, npz, safetensors, torch layout) give zero findings', () => {
  const noisy = corpus.benign.map((f) => reports.get(basename(f))!).filter((r) => r.findings.length > 0);
  assert.deepEqual(
    noisy.map((r) => `${r.file}: ${r.findings.map(describeFinding).join('; ')}`),
    [],
  );
  assert.ok(corpus.benign.length > 100, `benign corpus too small: ${corpus.benign.length}`);
});

test('every crafted file is blocked', () => {
  const missed = corpus.malicious.map((f) => reports.get(basename(f))!).filter((r) => r.verdict !== 'block');
  assert.deepEqual(
    missed.map((r) => `${r.file} (${r.kind}): ${r.verdict}`),
    [],
  );
});

const rule = (file: string, want: string): void => {
  const r = reports.get(file);
  assert.ok(r, `${file} not in corpus`);
  assert.ok(
    r.findings.some((f) => f.rule === want),
    `${file}: expected ${want}, got ${r.findings.map((f) => f.rule).join(',')}`,
  );
};

test('each evasion class is named by its own rule', () => {
  rule('memo_desync.pkl', 'KNOWN_CODE_EXECUTION');
  rule('int_desync_hex.pkl', 'PARSER_DIFFERENTIAL');
  rule('int_octal_differential.pkl', 'PARSER_DIFFERENTIAL');
  rule('float_underscore.pkl', 'PARSER_DIFFERENTIAL');
  rule('frame_crossing.pkl', 'PARSER_DIFFERENTIAL');
  rule('proto_misplaced.pkl', 'PICKLE_MALFORMED');
  rule('inst.pkl', 'KNOWN_CODE_EXECUTION');
  rule('object.npy', 'KNOWN_CODE_EXECUTION');
  rule('payload.joblib', 'KNOWN_CODE_EXECUTION');
  rule('joblib_unaligned.pkl', 'PARSER_DIFFERENTIAL');
  rule('torch_hidden_pickle.pt', 'KNOWN_CODE_EXECUTION');
  rule('unknown_class_newobj.pkl', 'UNKNOWN_GLOBAL');
  rule('dotted_pathlib.pkl', 'KNOWN_CODE_EXECUTION');
  rule('truncated_after_payload.pkl', 'PICKLE_TRUNCATED');
  rule('truncated_after_payload.pkl', 'KNOWN_CODE_EXECUTION');
  rule('broken_after_payload.pkl', 'KNOWN_CODE_EXECUTION');
  rule('garbage_after_stop.pkl', 'TRAILING_DATA');
  rule('second_stream.pkl', 'KNOWN_CODE_EXECUTION');
  rule('build_on_global.pkl', 'BUILD_ON_GLOBAL');
  rule('computed_callable.pkl', 'COMPUTED_CALLABLE');
  rule('ext_registry.pkl', 'EXTENSION_REGISTRY');
  rule('next_buffer.pkl', 'OUT_OF_BAND_BUFFER');
  rule('persid_text.pkl', 'PERSISTENT_ID');
  rule('cloudpickle_by_value.pkl', 'EMBEDDED_CODE');
  rule('sevenzip.pt', 'OPAQUE_CONTAINER');
  rule('zip_cd_name_mismatch.pt', 'ZIP_MISMATCH');
  rule('zip_duplicate.pt', 'ZIP_DUPLICATE_NAME');
  rule('torch_DATA_PKL_case.pt', 'ZIP_DUPLICATE_NAME');
  rule('zip_bad_crc.pt', 'ZIP_CRC');
  rule('zip_flag_encrypted.pt', 'ZIP_UNSUPPORTED');
  rule('zip_flag_patched.pt', 'ZIP_UNSUPPORTED');
  rule('zip_suffix.pt', 'ZIP_MISMATCH');
  rule('zip_prefix_polyglot.pt', 'PICKLE_MALFORMED');
  rule('bad.safetensors', 'SAFETENSORS_INVALID');
  rule('os.skops', 'KNOWN_CODE_EXECUTION');
  rule('external_data_escape.onnx', 'ONNX_EXTERNAL_DATA');
  rule('lambda.keras', 'EMBEDDED_CODE');
  rule('custom_module.keras', 'UNKNOWN_GLOBAL');
});

test('fed one byte at a time, every file gives the same findings as in one piece (the scan is truly incremental)', async () => {
  const small = [...corpus.malicious, ...corpus.benign].filter(
    (f) => reports.get(basename(f))!.size < 32 * 1024,
  );
  assert.ok(small.length > 60);
  const key = (r: FileReport) =>
    r.findings.map((f) => `${f.rule}@${f.offset}:${f.global ?? ''}:${(f.member ?? []).join('>')}`).join(' ');
  for (const f of small) {
    const whole = await readFile(f);
    const bytewise = await scanStream(
      scanner,
      basename(f),
      (async function* () {
        for (let i = 0; i < whole.length; i++) yield whole.subarray(i, i + 1);
      })(),
    );
    const once = await scanStream(
      scanner,
      basename(f),
      (async function* () {
        yield whole;
      })(),
    );
    assert.equal(key(bytewise), key(once), `${basename(f)} differs when fed byte by byte`);
    assert.equal(bytewise.verdict, reports.get(basename(f))!.verdict, basename(f));
  }
});

test('a finding names file, member, offset, opcode, global, role, why and the fix', () => {
  const f = reports.get('torch_payload.pt')!.findings.find((x) => x.global === 'posix.getpid')!;
  assert.deepEqual(
    { file: f.file, member: f.member, offset: f.offset, opcode: f.opcode, role: f.role },
    { file: 'torch_payload.pt', member: ['archive/data.pkl'], offset: 17, opcode: 'REDUCE', role: 'reduce' },
  );
  assert.match(f.message, /runs it/);
  assert.match(f.fix, /safetensors/);
  const unknown = reports.get('unknown_class_newobj.pkl')!.findings[0]!;
  assert.match(unknown.fix, /build\.scan\.allow: \[\{global: "mymodule:Evil", roles: \[newobj\]\}\]/);
});

test('files are typed by content: a pickle named .bin, a joblib zlib stream, a torch zip', () => {
  assert.equal(reports.get('renamed.bin')!.kind, 'pickle');
  assert.equal(reports.get('payload.joblib')!.kind, 'joblib');
  assert.equal(reports.get('state_dict.pt')!.kind, 'pytorch');
  assert.equal(reports.get('rf_reg.z3.joblib')!.kind, 'joblib');
  assert.equal(reports.get('arrays.npz')!.kind, 'npz');
});

test('approving a file by sha256 waives its findings, and says so', async () => {
  const evil = corpus.malicious.find((f) => f.endsWith('reduce_p2.pkl'))!;
  const sha = reports.get('reduce_p2.pkl')!.sha256;
  const r = await scanStream(new Scanner({ approve: [sha] }), 'reduce_p2.pkl', createReadStream(evil));
  assert.equal(r.verdict, 'pass');
  assert.equal(r.approved, true);
  assert.equal(r.findings[0]!.rule, 'APPROVED');
});

test('allowing a global in the configuration allows exactly that role', async () => {
  const path = corpus.malicious.find((f) => f.endsWith('unknown_class_newobj.pkl'))!;
  const ok = await scanStream(
    new Scanner({ allow: [{ global: 'mymodule:Evil', roles: ['newobj'] }] }),
    'x',
    createReadStream(path),
  );
  assert.equal(ok.verdict, 'pass');
  const wrongRole = await scanStream(
    new Scanner({ allow: [{ global: 'mymodule:Evil', roles: ['argument'] }] }),
    'x',
    createReadStream(path),
  );
  assert.equal(wrongRole.verdict, 'block');
});
