import { KilnError } from '../../errors.ts';

// Artifact names come from MLflow (ultimately from whoever logged the model). A name that is
// absolute, climbs with `..`, or carries NUL/control characters could write outside the model
// directory when the layer is unpacked, so it is refused before anything is downloaded.

export function safeArtifactPath(path: string, model: string): string {
  const refuse = (why: string): KilnError =>
    new KilnError('ARTIFACT_PATH_UNSAFE', `model ${model}: artifact "${printable(path)}" ${why}`, {
      kind: 'usage',
      hint: 'rename or remove that artifact in MLflow (log the model again without it); kiln never writes outside the model directory',
      details: { path },
    });
  if (path.length === 0) throw refuse('has an empty name');
  if (/[\u0000-\u001f\u007f]/.test(path)) throw refuse('contains a NUL or control character');
  if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path)) throw refuse('is an absolute path');
  if (path.includes('\\')) throw refuse('contains a backslash');
  const parts = path.split('/');
  if (parts.some((p) => p === '..')) throw refuse('contains ".." and would escape the model directory');
  if (parts.some((p) => p === '' || p === '.')) throw refuse('has an empty or "." path component');
  return path;
}

/** Where model files live inside the image: KServe mounts /mnt/models; modelcars serve from /models. */
export function modelDirFor(mode: 'baked' | 'modelcar'): string {
  return mode === 'baked' ? 'mnt/models' : 'models';
}

function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
