/**
 * Typed errors. Every error the library throws on bad input is a `VaeError` subclass with a
 * stable `code`, so callers can branch on `err instanceof ShapeError` or on `err.code`.
 */
export class VaeError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A tensor or data set has the wrong size or dimensionality. */
export class ShapeError extends VaeError {
  constructor(message: string) {
    super('E_SHAPE', message);
  }
}

/** Input data contains NaN or ±Infinity, is empty, or is out of the likelihood's support. */
export class DataError extends VaeError {
  constructor(message: string) {
    super('E_DATA', message);
  }
}

/** An option is unknown, of the wrong type, or out of range. */
export class ConfigError extends VaeError {
  constructor(message: string) {
    super('E_CONFIG', message);
  }
}

/** A model or data file is truncated, malformed or inconsistent. */
export class FormatError extends VaeError {
  constructor(message: string) {
    super('E_FORMAT', message);
  }
}

/** The training loss became NaN or infinite. `step` is the optimizer step that produced it. */
export class DivergenceError extends VaeError {
  readonly step: number;
  constructor(step: number, message: string) {
    super('E_DIVERGED', message);
    this.step = step;
  }
}

/** The WebAssembly kernels could not be loaded or the requested build is unsupported. */
export class WasmError extends VaeError {
  constructor(message: string) {
    super('E_WASM', message);
  }
}

/** Every error class the library throws, by name: the worker protocol rebuilds them from this table. */
export const ERROR_TYPES = { ShapeError, DataError, ConfigError, FormatError, WasmError } as const;

/**
 * Rebuilds one of the library's typed errors from its parts (the worker protocol). An error of any
 * other kind — a RangeError, a TypeError, a plain Error, or a malformed one — comes back as a
 * WasmError naming it ("the training worker failed: TypeError: …"), so that only the library's
 * typed errors cross the thread boundary.
 */
export function reviveError(name: string, message: string, code?: string, step?: number): VaeError {
  if (name === 'DivergenceError') return new DivergenceError(step ?? 0, message);
  // own names only: "__proto__", "constructor" or "toString" must not pick up Object.prototype's
  const E = Object.hasOwn(ERROR_TYPES, name)
    ? (ERROR_TYPES as Record<string, new (m: string) => VaeError>)[name]
    : undefined;
  if (E) return new E(message);
  if (code) return new VaeError(code, message);
  return new WasmError(`the training worker failed: ${name ? `${name}: ` : ''}${message}`);
}
