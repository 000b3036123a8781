/**
 * Messages between a WorkerTrainer (main thread) and its worker (src/worker/worker.ts), and the
 * model-state snapshot both sides exchange: the parameters plus the two RNG states, which is all a
 * VAE's training-relevant state (the optimizer state lives in the worker's Trainer).
 */
import type { VAE, ModelConfig } from '../vae.js';
import type { TrainerOptions, BatchInfo, EpochRecord, History } from '../trainer.js';
import type { BuildName } from '../wasm.js';
import { reviveError } from '../errors.js';

/** Parameters (the arena's params group, in file order) and the RNG streams' states. */
export interface Snapshot {
  params: Float32Array;
  rng: Uint32Array;
}

export const takeSnapshot = (vae: VAE): Snapshot => vae.net.snapshot();
export const applySnapshot = (vae: VAE, s: Snapshot): void => vae.net.restore(s);
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

/** Rebuilds the library's typed error (so `instanceof ConfigError` etc. hold on the main thread). */
export const deserializeError = (s: SerializedError): Error => reviveError(s.name, s.message, s.code, s.step);

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
      epochs: number;
      validationSamples?: number;
      batchEvents: boolean;
      syncMs: number | null;
      aborted: boolean;
    }
  | { type: 'abort'; id: number }
  | { type: 'save'; id: number }
  | { type: 'load'; id: number; snapshot: Snapshot };

export type FromWorker =
  | { type: 'ready'; build: BuildName; threads: number; threadsNote: string }
  | {
      type: 'error';
      id: number | null;
      error: SerializedError;
      snapshot?: Snapshot;
      history?: History;
      epoch?: number;
    }
  | { type: 'batch'; id: number; info: BatchInfo | null; snapshot?: Snapshot }
  | { type: 'epoch'; id: number; record: EpochRecord; history: History; epoch: number; snapshot: Snapshot }
  | { type: 'done'; id: number; history: History; epoch: number; snapshot: Snapshot }
  | { type: 'saved'; id: number; bytes: Uint8Array }
  | { type: 'loaded'; id: number };
