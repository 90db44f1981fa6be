import { dictGet, num, str, type Value } from './values.ts';

// Where joblib's raw array bytes are (joblib/numpy_pickle.py `NumpyArrayWrapper.read_array`), from
// the wrapper's BUILD state as the machine saw it: `dtype` (numpy.dtype(desc, ...) plus its BUILD
// state tuple (version, endian, subdescr, names, fields, elsize, alignment, flags)), `shape`, and
// `numpy_array_alignment_bytes` (a padding-length byte and padding precede the data when set).

export interface JoblibLayout {
  /** dtype.hasobject: the data is a nested pickle, not raw bytes. */
  objects: boolean;
  /** prod(shape) x itemsize raw bytes (0 for object arrays). */
  size: number;
  aligned: boolean;
}

/** The layout, or why it cannot be known (then the bytes that follow cannot be located: block). */
export function joblibLayout(state: Value | undefined): JoblibLayout | string {
  const dtype = dictGet(state, 'dtype');
  const shape = dictGet(state, 'shape');
  const align = dictGet(state, 'numpy_array_alignment_bytes');
  const desc = dtype?.t === 'obj' ? str(dtype.args?.[0]) : undefined;
  const dstate = dtype?.t === 'obj' && dtype.state?.t === 'tuple' ? dtype.state.items : undefined;
  const flags = num(dstate?.[7]) ?? 0;
  const elsize = num(dstate?.[5]) ?? -1;
  const dims = shape?.t === 'tuple' && shape.items ? shape.items.map(num) : undefined;
  if (desc === undefined || !dims || dims.some((d) => d === undefined)) {
    return 'a joblib array whose dtype or shape kiln cannot read, so the raw bytes that follow cannot be located';
  }
  const aligned = align !== undefined && align.t !== 'none';
  if (desc.startsWith('O') || (flags & 1) === 1) return { objects: true, size: 0, aligned };
  const itemsize = elsize > 0 ? elsize : Number(/\d+$/.exec(desc)?.[0] ?? Number.NaN);
  if (!Number.isFinite(itemsize)) return `a joblib array with dtype "${desc}" of unknown item size`;
  return { objects: false, size: (dims as number[]).reduce((a, d) => a * d, itemsize), aligned };
}
