import type { Policy } from './policy.ts';
import type { FindingSink, Role } from './types.ts';

// skops (`.skops`, a zip) never unpickles: its loaders rebuild objects from `schema.json`, and
// the types they construct are the trust decision (skops' own `get_untrusted_types`). kiln
// checks each constructed type against the same role allowlist as pickles, so a schema naming
// `os.system` or an unknown class blocks (CVE-2025-54412/54413 were type confusions here).

const ROLE_OF_LOADER: Record<string, Role> = {
  ObjectNode: 'newobj',
  ReduceNode: 'reduce',
  FunctionNode: 'reduce',
  MethodNode: 'reduce',
  OperatorFuncNode: 'reduce',
  PartialNode: 'reduce',
  TypeNode: 'argument',
};

export function checkSkopsSchema(json: Buffer, policy: Policy, sink: FindingSink): void {
  let root: unknown;
  try {
    root = JSON.parse(json.toString('utf8'));
  } catch {
    return; // not skops' schema: an ordinary JSON member
  }
  if (typeof root !== 'object' || root === null || !('_skops_version' in root)) return;
  const seen = new Set<string>();
  const walk = (n: unknown, depth: number): void => {
    if (depth > 200 || typeof n !== 'object' || n === null) return;
    if (Array.isArray(n)) {
      for (const x of n) walk(x, depth + 1);
      return;
    }
    const o = n as Record<string, unknown>;
    const loader = o.__loader__;
    if (typeof loader === 'string') {
      const role = ROLE_OF_LOADER[loader];
      let module = o.__module__;
      let name = o.__class__;
      if (loader === 'FunctionNode' || loader === 'TypeNode') {
        const c = o.content as Record<string, unknown> | undefined;
        if (c && typeof c.module_path === 'string') module = c.module_path;
        if (c && typeof c.function === 'string') name = c.function;
      }
      if (
        role &&
        typeof module === 'string' &&
        typeof name === 'string' &&
        !seen.has(`${module}:${name}:${role}`)
      ) {
        seen.add(`${module}:${name}:${role}`);
        sink.global(`${module}.${name}`, role);
        const denied = policy.check(module, name, role);
        if (denied) sink.add({ ...denied, global: `${module}.${name}`, role, opcode: `skops ${loader}` });
      }
    }
    for (const v of Object.values(o)) walk(v, depth + 1);
  };
  walk(root, 0);
}
