// Symbolic values on the emulated pickle stack. Only what the policy needs is kept: strings
// short enough to be names, small numbers and tuples (shapes, dtypes, storage ids), who made an
// object. Lists and dicts keep no items (bounded memory whatever the file holds), except the
// small dicts joblib's array wrappers carry as state.

export interface GlobalRef {
  module: string;
  qualname: string;
  offset: number;
  opcode: string;
  /** Roles already checked for this resolution (each is reported once). */
  checked: Set<string>;
}

export type Value =
  | { t: 'str'; s: string | undefined }
  | { t: 'bytes'; size: number }
  | { t: 'num'; n: number | bigint | undefined }
  | { t: 'none' }
  | { t: 'global'; g: GlobalRef }
  /** Result of REDUCE / NEWOBJ / INST / OBJ / persistent_load; `of` = the global that made it. */
  | { t: 'obj'; of: GlobalRef | undefined; args: Value[] | undefined; state: Value | undefined }
  | { t: 'tuple'; items: Value[] | undefined }
  | { t: 'list' }
  | { t: 'dict'; items: [Value, Value][] | undefined }
  | { t: 'set' };

export const NONE: Value = { t: 'none' };
export const MAX_KEPT_ITEMS = 32;

export const str = (v: Value | undefined): string | undefined => (v?.t === 'str' ? v.s : undefined);
export const num = (v: Value | undefined): number | undefined =>
  v?.t === 'num' && typeof v.n === 'number' ? v.n : undefined;

export function keepItems(items: Value[]): Value[] | undefined {
  return items.length <= MAX_KEPT_ITEMS ? items : undefined;
}

/** Look a key up in a kept dict. */
export function dictGet(d: Value | undefined, key: string): Value | undefined {
  if (d?.t !== 'dict' || !d.items) return undefined;
  for (const [k, v] of d.items) if (k.t === 'str' && k.s === key) return v;
  return undefined;
}

export const globalName = (g: GlobalRef): string => `${g.module}.${g.qualname}`;
