/**
 * Messages between a WorkerTrainer (main thread) and its worker (src/worker/worker.ts), and the
 * model-state snapshot both sides exchange: the parameters plus the two RNG states, which is all a
 * VAE's training-relevant state. The optimizer state lives in the worker's Trainer; every snapshot
 * the worker posts during a fit comes with a copy of it and the trainer's position (a checkpoint),
 * so the main side always holds the last consistent trainer state, should the worker die.
 */
import type { VAE, ModelConfig } from '../vae.js';
import type { TrainerOptions, ResolvedTrainerOptions, BatchInfo, EpochRecord, History } from '../trainer.js';
import type { BuildName } from '../wasm.js';
import { WasmError, reviveError } from '../errors.js';
import { RNG_STREAMS, RNG_WORDS } from '../network.js';

const RNG_WORDS_ALL = RNG_STREAMS * RNG_WORDS;

/** Parameters (the arena's params group, in file order) and the RNG streams' states. */
export interface Snapshot {
  params: Float32Array;
  rng: Uint32Array;
}

export const takeSnapshot = (vae: VAE): Snapshot => vae.net.snapshot();

const tagOf = (v: unknown): string => Object.prototype.toString.call(v);

/**
 * Copies a snapshot from the other side into the model. It is checked first (it crossed a thread
 * boundary, and `worker` may be any script): params a Float32Array of exactly the model's
 * parameter floats, all finite, and rng (if present) a Uint32Array of the RNG words. Anything else
 * is a WasmError, and the model is left as it was.
 */
export function applySnapshot(vae: VAE, s: Snapshot): void {
  const snap = s as { params?: unknown; rng?: unknown } | null;
  const floats = vae.net.paramFloats;
  if (!snap || typeof snap !== 'object' || tagOf(snap.params) !== '[object Float32Array]')
    throw new WasmError('a weight snapshot from the other thread has no Float32Array of parameters');
  const params = snap.params as Float32Array;
  if (params.length !== floats)
    throw new WasmError(
      `a weight snapshot from the other thread has ${params.length} parameter floats; this model has ${floats}`,
    );
  for (let i = 0; i < params.length; i++)
    if (!Number.isFinite(params[i]))
      throw new WasmError(
        `a weight snapshot from the other thread holds a non-finite parameter (index ${i})`,
      );
  const rng = snap.rng;
  if (
    rng !== undefined &&
    (tagOf(rng) !== '[object Uint32Array]' || (rng as Uint32Array).length !== RNG_WORDS_ALL)
  )
    throw new WasmError(
      `a weight snapshot from the other thread has RNG state that is not a Uint32Array of ${RNG_WORDS_ALL} words`,
    );
  vae.net.restore({ params, rng: rng as Uint32Array | undefined });
}
/** What the worker posts with a snapshot at a safe point: the optimizer state and where the trainer is. */
export interface CheckpointPart {
  /** The optimizer's state slots (Trainer.checkpoint().state). */
  state: Float32Array[];
  /** Optimizer steps taken and epochs completed. */
  step: number;
  epoch: number;
}

/**
 * Checks a checkpoint from the worker before the main side keeps it: `slots` Float32Arrays of the
 * model's parameter floats, all finite, and step/epoch non-negative integers. A WasmError otherwise.
 */
export function checkCheckpoint(vae: VAE, c: CheckpointPart, slots: number): CheckpointPart {
  const o = c as Partial<Record<keyof CheckpointPart, unknown>> | null;
  const floats = vae.net.paramFloats;
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!o || typeof o !== 'object' || !Array.isArray(o.state) || o.state.length !== slots)
    throw new WasmError(
      `a checkpoint from the training worker does not hold ${slots} optimizer-state arrays`,
    );
  for (const a of o.state as unknown[]) {
    if (tagOf(a) !== '[object Float32Array]' || (a as Float32Array).length !== floats)
      throw new WasmError(
        `a checkpoint from the training worker has optimizer state that is not a Float32Array of ${floats} floats`,
      );
    const f = a as Float32Array;
    for (let i = 0; i < f.length; i++)
      if (!Number.isFinite(f[i]))
        throw new WasmError(
          `a checkpoint from the training worker holds a non-finite optimizer state (index ${i})`,
        );
  }
  if (!count(o.step) || !count(o.epoch))
    throw new WasmError('a checkpoint from the training worker has no valid step and epoch counts');
  return { state: o.state as Float32Array[], step: o.step as number, epoch: o.epoch as number };
}

export const snapshotTransfer = (s: Snapshot): ArrayBuffer[] => [
  s.params.buffer as ArrayBuffer,
  s.rng.buffer as ArrayBuffer,
];

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  step?: number;
}

export function serializeError(e: unknown): SerializedError {
  const err = e as { name?: string; message?: string; code?: string; step?: number };
  return {
    name: String(err?.name ?? 'Error'),
    message: String(err?.message ?? e),
    code: err?.code,
    step: err?.step,
  };
}

/** A field of a message as text, never calling the sender's toString (it may have none, or not a callable one). */
const text = (v: unknown, dflt: string): string =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : dflt;

/**
 * Rebuilds the library's typed error (so `instanceof ConfigError` etc. hold on the main thread).
 * Whatever `s` is, the result is an Error: fields of the wrong type fall back to defaults.
 */
export function deserializeError(s: SerializedError): Error {
  const o = (s && typeof s === 'object' ? s : {}) as Partial<Record<keyof SerializedError, unknown>>;
  const step = Number.isSafeInteger(o.step) ? (o.step as number) : undefined;
  const code = typeof o.code === 'string' && o.code !== '' ? o.code : undefined;
  return reviveError(text(o.name, 'Error'), text(o.message, 'the training worker failed'), code, step);
}

export interface DataMessage {
  data: Float32Array;
  rows: number;
  cols: number;
}

export type ToWorker =
  | {
      type: 'init';
      module: WebAssembly.Module | null;
      /** The same build for a shared memory (kernel threads in the worker), when the page can compile it. */
      sharedModule: WebAssembly.Module | null;
      build: BuildName;
      config: ModelConfig;
      chunkRows: number;
      threads: number | 'auto';
      snapshot: Snapshot;
      trainer: TrainerOptions;
    }
  | {
      type: 'fit';
      id: number;
      train: DataMessage;
      val: DataMessage | null;
      /** A conditional model's conditions for the training and validation rows. */
      cond?: DataMessage | null;
      valCond?: DataMessage | null;
      epochs: number;
      validationSamples?: number;
      klPerDim?: boolean;
      batchEvents: boolean;
      syncMs: number | null;
      aborted: boolean;
    }
  | { type: 'abort'; id: number }
  | { type: 'save'; id: number }
  | { type: 'load'; id: number; snapshot: Snapshot };

export type FromWorker =
  | {
      type: 'ready';
      build: BuildName;
      threads: number;
      threadsNote: string;
      /** The worker's Trainer's options, resolved (what a checkpoint file records). */
      options?: ResolvedTrainerOptions;
    }
  | {
      type: 'error';
      id: number | null;
      error: SerializedError;
      snapshot?: Snapshot;
      checkpoint?: CheckpointPart;
      history?: History;
      epoch?: number;
    }
  | { type: 'batch'; id: number; info: BatchInfo | null; snapshot?: Snapshot; checkpoint?: CheckpointPart }
  | {
      type: 'epoch';
      id: number;
      record: EpochRecord;
      history: History;
      epoch: number;
      snapshot: Snapshot;
      checkpoint?: CheckpointPart;
    }
  | {
      type: 'done';
      id: number;
      history: History;
      epoch: number;
      snapshot: Snapshot;
      checkpoint?: CheckpointPart;
    }
  | { type: 'saved'; id: number; bytes: Uint8Array }
  | { type: 'loaded'; id: number };
