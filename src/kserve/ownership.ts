// Who owns a field, from metadata.managedFields (server-side apply's record). FieldsV1 nests
// `f:<name>` keys along the path: https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management
import { FIELD_MANAGER } from './client.ts';
import type { InferenceService } from './types.ts';

/** Managers other than kiln's apply that own the field at `path`. */
export function otherOwners(live: InferenceService, path: readonly string[]): string[] {
  const owners: string[] = [];
  for (const entry of live.metadata.managedFields ?? []) {
    if (entry.manager === FIELD_MANAGER && entry.operation === 'Apply') continue;
    let node: unknown = entry.fieldsV1;
    for (const key of path) {
      node =
        typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[`f:${key}`] : undefined;
    }
    if (node !== undefined) owners.push(entry.manager ?? '(unnamed)');
  }
  return owners;
}
