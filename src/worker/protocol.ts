/**
 * Messages between a WorkerTrainer (main thread) and its worker (src/worker/worker.ts), and the
 * model-state snapshot both sides exchange: the parameters plus the two RNG states, which is all a
 * VAE's training-relevant state (the optimizer state lives in the worker's Trainer).
 */
import type { VAE, ModelConfig } from '../vae.js';
import type { TrainerOptions, BatchInfo, EpochRecord, History } from '../trainer.js';
import type { BuildName } from '../wasm.js';
import { VaeError, ConfigError, DataError, ShapeError, FormatError, DivergenceError, WasmError } from '../errors.js';

/** Parameters (the arena's params group, in layer order) and the RNG header (2 × 4 u32). */
export interface Snapshot { params: Float32Array; rng: Uint32Array }

const RNG_WORDS = 8; // RNG_TRAIN and RNG_DATA states, 16 bytes each, at the arena header

export function takeSnapshot(vae: VAE): Snapshot {
  const net = vae.net, p = net.layout.params >> 2;
  return {
    params: net.heap.slice(p, p + net.paramFloats),
    rng: new Uint32Array(vae.kernels.memory.buffer, net.layout.header, RNG_WORDS).slice(),
  };
}

export function applySnapshot(vae: VAE, s: Snapshot): void {
  const net = vae.net;
  if (s.params.length !== net.paramFloats || s.rng.length !== RNG_WORDS) {
    throw new ConfigError(`weights from the worker have ${s.params.length} floats; this model has ${net.paramFloats}`);
  }
  net.heap.set(s.params, net.layout.params >> 2);
  new Uint32Array(vae.kernels.memory.buffer, net.layout.header, RNG_WORDS).set(s.rng);
}

export const snapshotTransfer = (s: Snapshot): ArrayBuffer[] => [s.params.buffer as ArrayBuffer, s.rng.buffer as ArrayBuffer];

export interface SerializedError { name: string; message: string; code?: string; step?: number }

export function serializeError(e: unknown): SerializedError {
  const err = e as { name?: string; message?: string; code?: string; step?: number };
  return { name: String(err?.name ?? 'Error'), message: String(err?.message ?? e), code: err?.code, step: err?.step };
}

/** Rebuilds the library's typed error (so `instanceof ConfigError` etc. hold on the main thread). */
export function deserializeError(s: SerializedError): Error {
  switch (s.name) {
    case 'ConfigError': return new ConfigError(s.message);
    case 'DataError': return new DataError(s.message);
    case 'ShapeError': return new ShapeError(s.message);
    case 'FormatError': return new FormatError(s.message);
    case 'WasmError': return new WasmError(s.message);
    case 'DivergenceError': return new DivergenceError(s.step ?? 0, s.message);
    case 'RangeError': return new RangeError(s.message);
    case 'TypeError': return new TypeError(s.message);
    default: {
      if (s.code) return new VaeError(s.code, s.message);
      const e = new Error(s.message);
      e.name = s.name;
      return e;
    }
  }
}

export interface DataMessage { data: Float32Array; rows: number; cols: number }

export type ToWorker =
  | { type: 'init'; module: WebAssembly.Module | null; build: BuildName; config: ModelConfig; chunkRows: number; snapshot: Snapshot; trainer: TrainerOptions }
  | { type: 'fit'; id: number; train: DataMessage; val: DataMessage | null; epochs: number; validationSamples?: number;
      batchEvents: boolean; syncMs: number | null; aborted: boolean }
  | { type: 'abort'; id: number }
  | { type: 'save'; id: number }
  | { type: 'load'; id: number; snapshot: Snapshot };

export type FromWorker =
  | { type: 'ready'; build: BuildName }
  | { type: 'error'; id: number | null; error: SerializedError; snapshot?: Snapshot; history?: History; epoch?: number }
  | { type: 'batch'; id: number; info: BatchInfo | null; snapshot?: Snapshot }
  | { type: 'epoch'; id: number; record: EpochRecord; history: History; epoch: number; snapshot: Snapshot }
  | { type: 'done'; id: number; history: History; epoch: number; snapshot: Snapshot }
  | { type: 'saved'; id: number; bytes: Uint8Array }
  | { type: 'loaded'; id: number };
