// The fuzz suite's harness: how many cases each property runs and with which seed, and the one
// promise every case checks — the call returns (or rejects) within a time bound, nothing but the
// library's typed errors (VaeError subclasses) escapes, and no wasm memory grows past the limit the
// library enforces.
//
// `npm test` runs every property with its fixed default count and the fixed seed below.
// `npm run fuzz -- --runs N [--seed S]` (scripts/fuzz.mjs) runs the same properties with N cases
// each (FUZZ_RUNS) and a random or given seed (FUZZ_SEED).
import fc from 'fast-check';
import { expect } from 'vitest';
import '../../src/wasm-node.js'; // the wasm builds are read from build/ on disk
import { VaeError } from '../../src/errors.js';
import { LIMITS } from '../../src/config.js';

/** The seed CI uses; each property derives its own from it and its name. */
export const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20261201;
const RUNS = process.env.FUZZ_RUNS !== undefined ? Number(process.env.FUZZ_RUNS) : undefined;
if (!Number.isSafeInteger(SEED))
  throw new Error(`FUZZ_SEED must be an integer, got ${process.env.FUZZ_SEED}`);
if (RUNS !== undefined && !(Number.isSafeInteger(RUNS) && RUNS > 0))
  throw new Error(`FUZZ_RUNS must be a positive integer, got ${process.env.FUZZ_RUNS}`);

/** Longest a single call may take (generous: CI's 2 cores run two test files at once). */
export const CASE_MS = 2000;

/** Cases run per property name, summed for the report (printed by the suites' afterAll). */
export const counts = new Map<string, number>();

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/**
 * fast-check parameters of one property: its default run count (or FUZZ_RUNS, up to `maxRuns` for
 * a property whose input space is small) and a seed derived from SEED and its name.
 */
export function params<T>(name: string, defaultRuns: number, maxRuns = Infinity): fc.Parameters<T> {
  const numRuns = Math.min(RUNS ?? defaultRuns, maxRuns);
  counts.set(name, (counts.get(name) ?? 0) + numRuns);
  return { numRuns, seed: (SEED ^ hash(name)) | 0 };
}

// --- wasm memory: every grow the library asks for is recorded, and none may pass the limit ----------

let peakRequest = 0;
const grow = WebAssembly.Memory.prototype.grow;
WebAssembly.Memory.prototype.grow = function (this: WebAssembly.Memory, delta: number) {
  peakRequest = Math.max(peakRequest, this.buffer.byteLength + delta * 65536);
  return grow.call(this, delta);
};

/** Bytes the wasm memory of any model may reach: the arena limit plus the module's static data and slack. */
export const WASM_BOUND = LIMITS.maxArenaBytes + 2 ** 20;

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}: ${e.message.slice(0, 300)}\n${e.stack ?? ''}`;
  return `a thrown ${typeof e}: ${String(e).slice(0, 300)}`;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: VaeError };

/**
 * Runs one call under the promise: it settles within CASE_MS, fails only with a VaeError, and asks
 * for no wasm memory past WASM_BOUND. Returns what it returned, or the typed error.
 */
export async function typed<T>(what: string, fn: () => T | Promise<T>, ms = CASE_MS): Promise<Outcome<T>> {
  peakRequest = 0;
  const t0 = performance.now();
  let out: Outcome<T>;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const v = fn();
    // an async call that never settles is a hang: report it (a synchronous one shows as the test's timeout)
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: did not settle within ${ms + 1000} ms`)),
        ms + 1000,
      );
    });
    out = { ok: true, value: v instanceof Promise ? await Promise.race([v, hang]) : v };
  } catch (e) {
    if (!(e instanceof VaeError)) throw new Error(`${what}: an untyped error escaped: ${describeError(e)}`);
    out = { ok: false, error: e };
  } finally {
    clearTimeout(timer);
  }
  const took = performance.now() - t0;
  if (took > ms) throw new Error(`${what}: took ${took.toFixed(0)} ms (bound ${ms} ms)`);
  if (peakRequest > WASM_BOUND)
    throw new Error(`${what}: asked for ${(peakRequest / 2 ** 20).toFixed(0)} MiB of wasm memory`);
  return out;
}

/** Every number in `a` is finite. */
export function expectFinite(what: string, a: ArrayLike<number> | number): void {
  if (typeof a === 'number') {
    if (!Number.isFinite(a)) throw new Error(`${what}: not finite: ${a}`);
    return;
  }
  for (let i = 0; i < a.length; i++)
    if (!Number.isFinite(a[i])) throw new Error(`${what}: non-finite value ${a[i]} at index ${i}`);
}

/** JS memory (heap + array buffers) stays under a bound across a property. */
export function expectJsMemoryBelow(bytes: number): void {
  const m = process.memoryUsage();
  expect(m.heapUsed + m.arrayBuffers, 'JS heap + array buffers').toBeLessThan(bytes);
}

// --- generators shared by the suites ------------------------------------------------------------

/** Integers a hostile value is made of: small, boundary and huge ones, negative and fractional. */
export const nastyInt = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 8 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      -1,
      -0,
      0.5,
      1.5,
      255,
      256,
      65535,
      65536,
      2 ** 24,
      1e9,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32,
      2 ** 32 + 1,
      2 ** 53 - 1,
      2 ** 53,
      1e300,
      Number.MAX_VALUE,
    ),
  },
  { weight: 1, arbitrary: fc.integer() },
);

/** Any value JSON can carry, leaning to the troublesome ones. */
export const nastyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: nastyInt },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      null,
      true,
      false,
      '',
      '4',
      'NaN',
      'Infinity',
      '__proto__',
      'constructor',
      'toString',
      'relu',
      'bernoulli',
      'adam',
    ),
  },
  { weight: 1, arbitrary: fc.array(nastyInt, { maxLength: 4 }) },
  {
    weight: 1,
    arbitrary: fc.dictionary(
      fc.constantFrom('__proto__', 'constructor', 'name', 'type', 'lr', 'x'),
      fc.oneof(nastyInt, fc.constant('adam'), fc.constant(null)),
      { maxKeys: 3 },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

/** Values of any JavaScript kind for option and argument slots. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyJson },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      undefined,
      NaN,
      Infinity,
      -Infinity,
      10n,
      Symbol('s'),
      () => 1,
      new Date(0),
      Object.create(null),
      { toString: 1, valueOf: 1 },
      { constructor: { name: Object.create(null) } },
      [10n],
      [Object.create(null)],
      [],
      new Float64Array(2),
    ),
  },
);

/** A plain object built from entries with JSON.parse, so that "__proto__" is an own key (as in a file). */
export function ownObject(entries: [string, unknown][]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries)
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}
