import { KilnError } from '../errors.ts';
import { PACKS, type Pack } from './packs.ts';
import type { Role, RuleId, Severity } from './types.ts';

// Policy = allowlist by role, default deny (docs/scan.md). A global is allowed only for the roles
// its pack entry lists: `numpy.ndarray` may be passed as an argument but not called, an estimator
// class may be instantiated (NEWOBJ) and have its state set (BUILD) but not be called by REDUCE.
// The packs are data generated from the real libraries (scripts/scan-packs.py); the denylist below
// is NOT a gate: it only names why a blocked global is dangerous (research §0.5).

export interface AllowEntry {
  /** `module:qualname` (or `module.Name`, split at the last dot). */
  global: string;
  /** Roles allowed; all four when omitted. */
  roles?: Role[] | undefined;
}

export interface PolicyOptions {
  /** Extra globals allowed (kiln.yaml `build.scan.allow`). */
  allow?: readonly AllowEntry[];
  packs?: readonly Pack[];
}

export interface Denied {
  rule: RuleId;
  severity: Severity;
  message: string;
  fix: string;
}

const ALL_ROLES: readonly Role[] = ['reduce', 'newobj', 'argument', 'build'];

/** Modules that build code from data: a pickle using them carries a program (functions by value). */
const EMBEDDED_CODE =
  /^(cloudpickle|srsly\.cloudpickle|dill|joblib\.externals\.cloudpickle)(\.|$)|^types\.(CodeType|FunctionType|MethodType|LambdaType|ModuleType)$|^marshal\./;

/** Known code-execution or I/O primitives (picklescan, ModelScan, fickling, ModelAudit lists). Explanatory only. */
const DANGEROUS_MODULES = new Set([
  'os',
  'posix',
  'nt',
  'subprocess',
  'sys',
  'runpy',
  'pty',
  'socket',
  'ssl',
  'shutil',
  'importlib',
  'pickle',
  '_pickle',
  'marshal',
  'ctypes',
  'code',
  'codeop',
  'pkgutil',
  'pydoc',
  'webbrowser',
  'http',
  'urllib',
  'requests',
  'aiohttp',
  'asyncio',
  'multiprocessing',
  'signal',
  'pdb',
  'bdb',
  'timeit',
  'cProfile',
  'profile',
  'trace',
  'doctest',
  'idlelib',
  'lib2to3',
  'ensurepip',
  'pip',
  'venv',
  'tempfile',
  'glob',
  'io',
  '_io',
  'zipimport',
  'threading',
  '_thread',
  'operator',
  '_operator',
  'functools',
  'uuid',
  'smtplib',
  'ftplib',
  'telnetlib',
  'imp',
  'site',
  'sysconfig',
  'platform',
  'builtins',
  '__builtin__',
  'torch.hub',
  'torch.jit',
  'torch._dynamo',
  'torch._inductor',
  'numpy.f2py',
  'numpy.testing',
  'commands',
  'spawn',
]);
const DANGEROUS_NAMES =
  /^(eval|exec|execfile|compile|open|getattr|setattr|delattr|__import__|apply|breakpoint|input|globals|locals|vars|load|loads|read_pickle|read_csv|system|popen|spawn\w*|run\w*)$/;

function isDangerous(module: string, qualname: string): boolean {
  const parts = [...module.split('.'), ...qualname.split('.')];
  for (let i = 1; i <= parts.length; i++)
    if (DANGEROUS_MODULES.has(parts.slice(0, i).join('.'))) {
      // `builtins` is only dangerous for its reflective / I/O names.
      if (parts[0] === 'builtins' || parts[0] === '__builtin__')
        return DANGEROUS_NAMES.test(parts.at(-1) ?? '');
      return true;
    }
  // A dotted qualname walks attributes (protocol >= 4): `pathlib os.system` reaches os.system.
  return (
    qualname.split('.').some((p, i) => i > 0 && DANGEROUS_NAMES.test(p)) ||
    (qualname.includes('.') && qualname.split('.').some((p) => DANGEROUS_MODULES.has(p)))
  );
}

export function splitGlobal(spec: string): { module: string; qualname: string } {
  const colon = spec.indexOf(':');
  if (colon > 0) return { module: spec.slice(0, colon), qualname: spec.slice(colon + 1) };
  const dot = spec.lastIndexOf('.');
  if (dot <= 0) {
    throw new KilnError('SCAN_ALLOW_INVALID', `build.scan.allow entry "${spec}" is not module:qualname`, {
      kind: 'usage',
      hint: 'write the global as module:qualname, e.g. mypkg.features:Scaler',
    });
  }
  return { module: spec.slice(0, dot), qualname: spec.slice(dot + 1) };
}

export class Policy {
  private readonly table = new Map<string, Set<Role>>();
  readonly packs: readonly { pack: string; libraries: Record<string, string> }[];

  constructor(opts: PolicyOptions = {}) {
    const packs = opts.packs ?? PACKS;
    this.packs = packs.map((p) => ({ pack: p.pack, libraries: p.libraries }));
    for (const p of packs)
      for (const [module, names] of Object.entries(p.globals))
        for (const [name, roles] of Object.entries(names)) this.add(module, name, roles as Role[]);
    for (const a of opts.allow ?? []) {
      const { module, qualname } = splitGlobal(a.global);
      this.add(module, qualname, a.roles ?? ALL_ROLES);
    }
  }

  private add(module: string, qualname: string, roles: readonly Role[]): void {
    const key = `${module}:${qualname}`;
    const set = this.table.get(key) ?? new Set<Role>();
    for (const r of roles) set.add(r);
    this.table.set(key, set);
  }

  /** Undefined when allowed; otherwise why not and what to do. `import` = resolved but never used. */
  check(module: string, qualname: string, role: Role | 'import'): Denied | undefined {
    const name = `${module}.${qualname}`;
    if (EMBEDDED_CODE.test(name) || EMBEDDED_CODE.test(module)) {
      return {
        rule: 'EMBEDDED_CODE',
        severity: 'block',
        message: `${name} builds Python code from the file (a function or class pickled by value, e.g. by cloudpickle): loading runs that code`,
        fix: 'define the function or class in an importable module (not __main__ or a notebook) and log the model again, or re-export with skops/safetensors; or approve this file by sha256 in build.scan.approve',
      };
    }
    const roles = this.table.get(`${module}:${qualname}`);
    if (roles && (role === 'import' ? roles.size > 0 : roles.has(role))) return undefined;
    const allowedAs = roles ? ` (it is allowed only as ${[...roles].join('/')})` : '';
    const verb = ROLE_TEXT[role];
    if (isDangerous(module, qualname)) {
      return {
        rule: 'KNOWN_CODE_EXECUTION',
        severity: 'block',
        message: `${name} is a known code-execution or I/O primitive and the file ${verb} it: loading this file runs it`,
        fix: 'do not deploy this file: it was crafted or built from code that must not be in a model; re-export the model with safetensors or skops',
      };
    }
    return {
      rule: 'UNKNOWN_GLOBAL',
      severity: 'block',
      message: `${name} is not on the allowlist for role ${role}${allowedAs}; the file ${verb} it, so loading it would run code kiln has not vetted`,
      fix: `re-export the model with safetensors or skops, or, if you trust that code, allow it in kiln.yaml: build.scan.allow: [{global: "${module}:${qualname}", roles: [${role === 'import' ? 'argument' : role}]}], or approve this file by sha256 in build.scan.approve`,
    };
  }
}

const ROLE_TEXT: Record<Role | 'import', string> = {
  reduce: 'calls (REDUCE/INST/OBJ)',
  newobj: 'instantiates (NEWOBJ)',
  argument: 'passes around',
  build: 'sets the state of an instance of (BUILD)',
  import: 'imports',
};
