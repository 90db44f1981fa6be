import type { Policy } from './policy.ts';
import type { FindingSink } from './types.ts';

// Keras v3 `.keras` (a zip: metadata.json, config.json, model.weights.h5). Loading rebuilds every
// layer from config.json: a `Lambda` layer carries marshalled Python bytecode (run even with
// safe_mode on old Keras, CVE-2025-1550 / CVE-2025-9906), and any `module` outside keras names
// code Keras imports and calls. kiln blocks both, and checks non-keras classes against the same
// allowlist as pickles (role newobj).

const KERAS_MODULE = /^(keras|tf_keras|tensorflow\.keras|keras_hub|keras_nlp|keras_cv)(\.|$)/;

export function checkKerasConfig(json: Buffer, policy: Policy, sink: FindingSink): void {
  let root: unknown;
  try {
    root = JSON.parse(json.toString('utf8'));
  } catch {
    return;
  }
  if (typeof root !== 'object' || root === null || !('class_name' in root) || !('config' in root)) return;
  const walk = (n: unknown, depth: number): void => {
    if (depth > 500 || typeof n !== 'object' || n === null) return;
    if (Array.isArray(n)) {
      for (const x of n) walk(x, depth + 1);
      return;
    }
    const o = n as Record<string, unknown>;
    const cls = o.class_name;
    if (typeof cls === 'string') {
      const module = typeof o.module === 'string' ? o.module : undefined;
      if (
        cls === 'Lambda' ||
        cls === 'TorchModuleWrapper' ||
        cls === '__lambda__' ||
        cls === '__function__'
      ) {
        sink.add({
          rule: 'EMBEDDED_CODE',
          severity: 'block',
          opcode: 'keras config',
          global: `${module ?? 'keras'}.${cls}`,
          message: `a Keras ${cls} layer carries Python code (bytecode or a nested pickle) that loading the model runs`,
          fix: 'replace the Lambda layer with a registered custom layer in an importable package, or export the weights as safetensors',
        });
      } else if (module !== undefined && !KERAS_MODULE.test(module)) {
        const denied = policy.check(module, cls, 'newobj');
        if (denied)
          sink.add({ ...denied, opcode: 'keras config', global: `${module}.${cls}`, role: 'newobj' });
      }
    }
    for (const v of Object.values(o)) walk(v, depth + 1);
  };
  walk(root, 0);
}
