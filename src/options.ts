/**
 * Option schemas: each options object of the public API is declared once — its keys, what each
 * value must be, and its default — and parsed in one call that rejects unknown keys and values of
 * the wrong type or range with a ConfigError naming the option and what it got.
 */
import { ConfigError } from './errors.js';

/** Validates one value (`name` is the option's name for the message) and returns it. */
export type Check<T> = (v: unknown, name: string) => T;

export interface Field<T> {
  readonly check: Check<T>;
  /** The default, or a function of the options resolved so far (fields are resolved in order). */
  readonly dflt?: T | ((resolved: Record<string, unknown>) => T);
  readonly required?: boolean;
}

export type Schema = Record<string, Field<unknown>>;
export type Parsed<S extends Schema> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

/** The value as a message shows it, with its type when that is the problem: `"128" (a string)`. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return `${JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v)} (a string)`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  if (typeof v === 'bigint') return `${v}n (a bigint)`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  if (Array.isArray(v)) {
    let text: string;
    try {
      text = JSON.stringify(v).slice(0, 60);
    } catch {
      text = `[${v.length} items]`; // bigints, cycles
    }
    return `${text} (an array)`;
  }
  // never String(v) of a caller's object: a null prototype or a non-callable toString would throw
  const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'an object';
}

const fail = (name: string, what: string, v: unknown): never => {
  throw new ConfigError(`${name} must be ${what}, got ${describe(v)}`);
};

/** A field with a default (or, with `required`, none). */
export const field = <T>(check: Check<T>, dflt?: Field<T>['dflt']): Field<T> => ({ check, dflt });
export const required = <T>(check: Check<T>): Field<T> => ({ check, required: true });
/** A field that may stay undefined. */
export const optional = <T>(check: Check<T>): Field<T | undefined> => ({
  check: (v, n) => (v === undefined ? undefined : check(v, n)),
});

export const posInt: Check<number> = (v, n) =>
  Number.isSafeInteger(v) && (v as number) > 0 ? (v as number) : fail(n, 'a positive integer', v);
export const nonNegInt: Check<number> = (v, n) =>
  Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : fail(n, 'a non-negative integer', v);
export const finite: Check<number> = (v, n) =>
  typeof v === 'number' && Number.isFinite(v) ? v : fail(n, 'a finite number', v);
export const positive: Check<number> = (v, n) =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fail(n, 'a positive finite number', v);
export const nonNegative: Check<number> = (v, n) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fail(n, 'a non-negative finite number', v);
export const str: Check<string> = (v, n) => (typeof v === 'string' ? v : fail(n, 'a string', v));
export const bool: Check<boolean> = (v, n) => (typeof v === 'boolean' ? v : fail(n, 'true or false', v));
export const func = <F>(v: unknown, n: string): F =>
  typeof v === 'function' ? (v as F) : fail(n, 'a function', v);
export const any = <T>(v: unknown): T => v as T;
export const oneOf =
  <T extends string>(values: readonly T[]): Check<T> =>
  (v, n) => {
    if (values.includes(v as T)) return v as T;
    if (typeof v === 'string')
      throw new ConfigError(`unknown ${n} ${JSON.stringify(v)}; expected one of ${values.join(', ')}`);
    return fail(n, `one of ${values.map((x) => `'${x}'`).join(', ')}`, v);
  };
/** A number in [lo, hi). */
export const inRange =
  (lo: number, hi: number): Check<number> =>
  (v, n) =>
    typeof v === 'number' && v >= lo && v < hi ? v : fail(n, `a number in [${lo}, ${hi})`, v);
export const intArray: Check<number[]> = (v, n) =>
  Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x > 0)
    ? [...v]
    : fail(n, 'an array of positive integers', v);
/** A nested options object parsed by its own schema. */
export const nested =
  <S extends Schema>(what: string, schema: S): Check<Parsed<S>> =>
  (v, n) =>
    parse(schema, v, what || n, n);

/** Parses an options object: unknown keys and bad values are ConfigErrors; defaults fill the rest. */
export function parse<S extends Schema>(schema: S, o: unknown, what: string, prefix = ''): Parsed<S> {
  if (o === undefined) o = {};
  if (!o || typeof o !== 'object' || Array.isArray(o))
    throw new ConfigError(`${what} options must be an object, got ${describe(o)}`);
  checkKeys(o, Object.keys(schema), what);
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(schema)) {
    const v = (o as Record<string, unknown>)[key];
    if (v === undefined) {
      if (f.required) throw new ConfigError(`${what} needs the option ${key}`);
      const d =
        typeof f.dflt === 'function' ? (f.dflt as (r: Record<string, unknown>) => unknown)(out) : f.dflt;
      out[key] = d === undefined ? f.check(undefined, prefix ? `${prefix}.${key}` : key) : d;
    } else {
      out[key] = f.check(v, prefix ? `${prefix}.${key}` : key);
    }
  }
  return out as Parsed<S>;
}

/** Rejects a key outside `known`, naming it (Object.keys: own enumerable keys only). */
export function checkKeys(
  o: object,
  known: readonly string[],
  what: string,
  E: new (m: string) => Error = ConfigError,
): void {
  for (const key of Object.keys(o))
    if (!known.includes(key)) throw new E(`unknown ${what} option "${key}"; known: ${known.join(', ')}`);
}
