// Valid safetensors files from small real models, and generators of their mutations: JSON-level
// edits of the header (dtype / shape / offset lies, missing, renamed or duplicated tensors,
// metadata of the wrong type, configs and trainer states that are valid JSON with wrong values or
// that claim gigabytes) and byte-level damage (bit flips, truncation, header length lies, appended
// bytes), plus non-finite or huge weights in the data section.
import fc from 'fast-check';
import { nastyInt, nastyJson, ownObject } from './harness.js';
import { MODEL_KEYS } from '../../src/config.js';

const enc = new TextEncoder(),
  dec = new TextDecoder();

/** A file as the mutators see it: the header's entries in order (duplicates allowed) and the data section. */
export interface Parts {
  entries: [string, unknown][];
  data: Uint8Array;
}

export function split(bytes: Uint8Array): Parts {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(dec.decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  return { entries: Object.entries(header), data: bytes.slice(8 + n) };
}

/** Serialises parts (the header by hand, so duplicate keys and "__proto__" survive). */
export function join(p: Parts, lenDelta = 0n): Uint8Array {
  const text = `{${p.entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`;
  const h = enc.encode(text);
  const out = new Uint8Array(8 + h.length + p.data.length);
  const len = BigInt(h.length) + lenDelta;
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, len), true);
  out.set(h, 8);
  out.set(p.data, 8 + h.length);
  return out;
}

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

// ---------------------------------------------------------------------------------------------
// Header mutations, as data (so a counterexample prints what was done)
// ---------------------------------------------------------------------------------------------

const TENSOR_FIELDS = ['dtype', 'shape', 'data_offsets'] as const;
const KEY_NAMES = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '',
  '__metadata__',
  'fc_mu.weight',
  'fc_out.bias',
  'encoder.0.weight',
  'optimizer.exp_avg.fc_mu.weight',
  'rng.train',
  'x',
];
const META_KEYS = [
  'format',
  'format_version',
  'config',
  'preprocessing',
  'trainer',
  '__proto__',
  'constructor',
  'x',
];

/** Configs that would allocate gigabytes, and other values of the right JSON type but the wrong size. */
const HUGE_CONFIGS: Record<string, unknown>[] = [
  { encoder: [65536] },
  { encoder: [65536], decoder: [65536] },
  { inputDim: 1e9 },
  { inputDim: 2 ** 31, encoder: [], decoder: [] },
  { inputDim: 3e6, encoder: [1], decoder: [1], latentDim: 1 },
  { latentDim: 2 ** 24 },
  { encoder: [4096, 4096, 4096] },
  { encoder: Array.from({ length: 64 }, () => 1024) },
];

const offsetValue = (dataLen: number) =>
  fc.oneof(
    fc.constantFrom(0, dataLen, dataLen + 1, dataLen - 1, Math.floor(dataLen / 2), 4, 8),
    nastyInt,
    fc.constantFrom<unknown>('0', null, -8, 1.5),
  );

export type HeaderOp =
  | { op: 'field'; entry: number; field: string; value: unknown }
  | { op: 'deleteField'; entry: number; field: string }
  | { op: 'reshape'; entry: number; shape: unknown[]; dtype: string }
  | { op: 'delete'; entry: number }
  | { op: 'duplicate'; entry: number }
  | { op: 'rename'; entry: number; name: string }
  | { op: 'swap'; a: number; b: number }
  | { op: 'meta'; key: string; value: unknown }
  | { op: 'metaDelete'; key: string }
  | { op: 'metaObject'; value: unknown }
  | { op: 'config'; key: string; value: unknown }
  | { op: 'configMerge'; merge: Record<string, unknown> }
  | { op: 'trainer'; path: string[]; value: unknown }
  | { op: 'weight'; entry: number; index: number; value: number };

const entryIx = fc.nat({ max: 63 });

/** One header mutation. */
export const headerOp = (dataLen: number): fc.Arbitrary<HeaderOp> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('field' as const),
        entry: entryIx,
        field: fc.constantFrom(...TENSOR_FIELDS, 'extra'),
        value: fc.oneof(
          fc.constantFrom('F32', 'F64', 'I32', 'U32', 'U8', 'I64', 'F16', 'BF16', 'f32'),
          fc.tuple(offsetValue(dataLen), offsetValue(dataLen)),
          fc.array(nastyInt, { maxLength: 4 }),
          nastyJson,
        ),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('deleteField' as const),
        entry: entryIx,
        field: fc.constantFrom(...TENSOR_FIELDS),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('reshape' as const),
        entry: entryIx,
        shape: fc.array(fc.oneof(fc.integer({ min: 0, max: 6 }), nastyInt), { maxLength: 3 }),
        dtype: fc.constantFrom('F32', 'F64', 'U8', 'U32'),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), entry: entryIx }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), entry: entryIx }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('rename' as const),
        entry: entryIx,
        name: fc.oneof(fc.constantFrom(...KEY_NAMES), fc.string({ maxLength: 6 })),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('swap' as const), a: entryIx, b: entryIx }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('meta' as const),
        key: fc.constantFrom(...META_KEYS),
        value: fc.oneof(
          { weight: 3, arbitrary: nastyJson.map((v) => JSON.stringify(v) ?? 'null') },
          { weight: 1, arbitrary: nastyJson },
          {
            weight: 1,
            arbitrary: fc.constantFrom('wasm-vae', '1', '2', '01', '1.0', '{}', '[]', 'null', '{'),
          },
        ),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('metaDelete' as const), key: fc.constantFrom(...META_KEYS) }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('metaObject' as const), value: nastyJson }) },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('config' as const),
        key: fc.constantFrom(
          ...MODEL_KEYS,
          '__proto__',
          'constructor',
          'chunkRows',
          'build',
          'binarization',
          'x',
        ),
        value: fc.oneof(
          nastyJson,
          fc.constantFrom<unknown>([65536], [1e9], [0], [-1], [1.5], [], ['4'], [2 ** 31]),
          fc.constantFrom('relu', 'tanh', 'gaussian', 'gaussian-learned', 'static', 'dynamic', 'glorot'),
        ),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('configMerge' as const),
        merge: fc.constantFrom(...HUGE_CONFIGS),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('trainer' as const),
        path: fc.oneof(
          fc.tuple(
            fc.constantFrom('step', 'epoch', 'options', 'optimizer', 'history', '__proto__', 'constructor'),
          ),
          fc.tuple(
            fc.constant('options'),
            fc.constantFrom(
              'batchSize',
              'samples',
              'objective',
              'beta',
              'klWarmup',
              'freeBits',
              'reduction',
              'lrSchedule',
              'shuffle',
              'earlyStopping',
              'yieldMs',
              '__proto__',
              'constructor',
            ),
          ),
          fc.tuple(
            fc.constant('optimizer'),
            fc.constantFrom(
              'name',
              'lr',
              'betas',
              'eps',
              'weightDecay',
              'momentum',
              'clipGradNorm',
              '__proto__',
            ),
          ),
          fc.tuple(
            fc.constant('history'),
            fc.constantFrom('epochs', 'stopReason', 'bestEpoch', 'steps', '__proto__', 'constructor'),
          ),
          fc.tuple(
            fc.constant('options'),
            fc.constant('lrSchedule'),
            fc.constantFrom('type', 'epochs', 'gamma', 'minLr', 'stepSize'),
          ),
        ),
        value: fc.oneof(
          nastyJson,
          fc.constantFrom<unknown>(
            { type: 'cosine', epochs: 0 },
            { type: 'step', stepSize: 1, gamma: -1 },
            { type: 'exponential', gamma: 1e300 },
            { name: 'sgd', lr: 1e300 },
            { name: 'adam', lr: 1e300 },
            { name: 'adam', betas: [1, 1] },
            { patience: 1, restoreBest: true },
            { steps: 0.5 },
            'iwae',
            'cosine',
            'dataset',
          ),
        ),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('weight' as const),
        entry: entryIx,
        index: fc.nat({ max: 1000 }),
        value: fc.constantFrom(NaN, Infinity, -Infinity, 3e38, -3e38, 1e30, 1e20, 1e10, -1e10, 1e-45, -0),
      }),
    },
  );

const isTensor = ([k]: [string, unknown]) => k !== '__metadata__';

/** Applies header ops to a copy of the parts. */
export function applyOps(base: Parts, ops: readonly HeaderOp[]): Parts {
  const entries: [string, unknown][] = base.entries.map(([k, v]) => [k, clone(v)]);
  let data = base.data;
  const tensorIx = (i: number) => {
    const ix = entries.map((e, j) => (isTensor(e) ? j : -1)).filter((j) => j >= 0);
    return ix.length ? ix[i % ix.length] : -1;
  };
  const meta = (): Record<string, unknown> | null => {
    const e = entries.find(([k]) => k === '__metadata__');
    return e && e[1] && typeof e[1] === 'object' && !Array.isArray(e[1])
      ? (e[1] as Record<string, unknown>)
      : null;
  };
  const setOwn = (o: Record<string, unknown>, k: string, v: unknown) =>
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  const jsonMeta = (key: string): Record<string, unknown> | null => {
    const m = meta();
    if (!m || typeof m[key] !== 'string') return null;
    try {
      const v = JSON.parse(m[key] as string);
      return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
    } catch {
      return null;
    }
  };
  for (const o of ops) {
    switch (o.op) {
      case 'field':
      case 'deleteField':
      case 'reshape':
      case 'weight': {
        const j = tensorIx(o.entry);
        if (j < 0) break;
        const t = entries[j][1];
        if (!t || typeof t !== 'object' || Array.isArray(t)) break;
        const tt = t as Record<string, unknown>;
        if (o.op === 'field') setOwn(tt, o.field, o.value);
        else if (o.op === 'deleteField') delete tt[o.field];
        else if (o.op === 'reshape') {
          // a consistent lie: shape, dtype and the byte length of the offsets agree with each other
          const size = { F32: 4, F64: 8, U8: 1, U32: 4 }[o.dtype]!;
          const n = o.shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : NaN), 1);
          const off = tt.data_offsets as unknown[];
          const begin = Array.isArray(off) && typeof off[0] === 'number' ? off[0] : 0;
          tt.shape = o.shape;
          tt.dtype = o.dtype;
          tt.data_offsets = [begin, begin + n * size];
        } else {
          const off = tt.data_offsets as unknown[];
          if (!Array.isArray(off) || typeof off[0] !== 'number' || typeof off[1] !== 'number') break;
          const [b, e] = off as number[];
          if (!(b >= 0 && e <= data.length && e - b >= 4)) break;
          const at = b + 4 * (o.index % Math.floor((e - b) / 4));
          if (data === base.data) data = data.slice();
          new DataView(data.buffer, data.byteOffset).setFloat32(at, o.value, true);
        }
        break;
      }
      case 'delete': {
        const j = tensorIx(o.entry);
        if (j >= 0) entries.splice(j, 1);
        break;
      }
      case 'duplicate': {
        const j = tensorIx(o.entry);
        if (j >= 0) entries.push([entries[j][0], clone(entries[j][1])]);
        break;
      }
      case 'rename': {
        const j = tensorIx(o.entry);
        if (j >= 0) entries[j][0] = o.name;
        break;
      }
      case 'swap': {
        const a = tensorIx(o.a),
          b = tensorIx(o.b);
        if (a >= 0 && b >= 0) [entries[a][1], entries[b][1]] = [entries[b][1], entries[a][1]];
        break;
      }
      case 'meta': {
        const m = meta();
        if (m) setOwn(m, o.key, o.value);
        break;
      }
      case 'metaDelete': {
        const m = meta();
        if (m) delete m[o.key];
        break;
      }
      case 'metaObject': {
        const e = entries.find(([k]) => k === '__metadata__');
        if (e) e[1] = o.value;
        break;
      }
      case 'config':
      case 'configMerge': {
        const c = jsonMeta('config'),
          m = meta();
        if (!c || !m) break;
        if (o.op === 'config') setOwn(c, o.key, o.value);
        else for (const [k, v] of Object.entries(o.merge)) setOwn(c, k, v);
        m.config = JSON.stringify(c);
        break;
      }
      case 'trainer': {
        const s = jsonMeta('trainer'),
          m = meta();
        if (!s || !m) break;
        let at: Record<string, unknown> = s;
        for (const k of o.path.slice(0, -1)) {
          const next = at[k];
          if (!next || typeof next !== 'object' || Array.isArray(next)) setOwn(at, k, ownObject([]));
          at = at[k] as Record<string, unknown>;
        }
        setOwn(at, o.path[o.path.length - 1], o.value);
        m.trainer = JSON.stringify(s);
        break;
      }
    }
  }
  return { entries, data };
}

// ---------------------------------------------------------------------------------------------
// Byte-level damage
// ---------------------------------------------------------------------------------------------

export type ByteOp =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'append'; bytes: Uint8Array }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'length'; value: bigint };

export const byteOp: fc.Arbitrary<ByteOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('append' as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('length' as const),
      value: fc.oneof(
        fc.bigInt({ min: -64n, max: 64n }),
        fc.constantFrom(2n ** 63n, 2n ** 64n - 1n, 2n ** 53n, 2n ** 32n, 100_000_001n),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      ),
    }),
  },
);

/** Applies byte ops in order; a 'length' op with a small value shifts the declared header length by it, a large one sets it. */
export function applyBytes(bytes: Uint8Array, ops: readonly ByteOp[]): Uint8Array {
  let b = bytes.slice();
  for (const o of ops) {
    if (b.length === 0 && o.op !== 'append') continue;
    switch (o.op) {
      case 'flip':
        b[o.at % b.length] ^= 1 << o.bit;
        break;
      case 'set':
        b[o.at % b.length] = o.value;
        break;
      case 'truncate':
        b = b.slice(0, o.at % b.length);
        break;
      case 'append': {
        const n = new Uint8Array(b.length + o.bytes.length);
        n.set(b);
        n.set(o.bytes, b.length);
        b = n;
        break;
      }
      case 'insert': {
        const at = o.at % b.length,
          n = new Uint8Array(b.length + o.bytes.length);
        n.set(b.subarray(0, at));
        n.set(o.bytes, at);
        n.set(b.subarray(at), at + o.bytes.length);
        b = n;
        break;
      }
      case 'length': {
        if (b.length < 8) break;
        const v = new DataView(b.buffer, b.byteOffset, 8);
        const small = o.value >= -64n && o.value <= 64n;
        v.setBigUint64(0, BigInt.asUintN(64, small ? v.getBigUint64(0, true) + o.value : o.value), true);
        break;
      }
    }
  }
  return b;
}

export interface Mutation {
  base: number;
  header: HeaderOp[];
  bytes: ByteOp[];
  /** How the bytes are handed over: a plain array, a view at an odd offset, or shared memory. */
  view: 'plain' | 'offset' | 'shared';
}

/** Mutations of one of `bases` (as data, so a counterexample prints what was done): header ops, then (sometimes) byte damage. */
export function mutation(bases: readonly Uint8Array[]): fc.Arbitrary<Mutation> {
  const lens = bases.map((b) => split(b).data.length);
  return fc.nat({ max: bases.length - 1 }).chain((base) =>
    fc.record({
      base: fc.constant(base),
      header: fc.array(headerOp(lens[base]), { minLength: 0, maxLength: 3 }),
      bytes: fc.oneof(
        { weight: 3, arbitrary: fc.constant([] as ByteOp[]) },
        { weight: 2, arbitrary: fc.array(byteOp, { minLength: 1, maxLength: 3 }) },
      ),
      view: fc.constantFrom('plain', 'plain', 'plain', 'offset', 'shared'),
    }),
  );
}

function handOver(b: Uint8Array, view: Mutation['view']): Uint8Array {
  if (view === 'plain') return b;
  const out =
    view === 'shared'
      ? new Uint8Array(new SharedArrayBuffer(b.length))
      : new Uint8Array(new ArrayBuffer(b.length + 3), 3, b.length);
  out.set(b);
  return out;
}

/** The bytes of a mutation of one of `bases`. */
export function mutate(bases: readonly Uint8Array[], m: Mutation): Uint8Array {
  return handOver(applyBytes(join(applyOps(split(bases[m.base]), m.header)), m.bytes), m.view);
}
