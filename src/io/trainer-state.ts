/**
 * The trainer state a Trainer.save() file carries — the JSON under the metadata key "trainer" and
 * the optimizer-state tensors — read back for Trainer.resume as hostile input: every problem is a
 * FormatError naming it, and what is returned is built afresh from checked fields (no key of the
 * file, "__proto__" included, is ever assigned onto a live object). The trainer and optimizer
 * options it holds are checked by Trainer's and Optimizer's own schemas.
 */
import { FormatError } from '../errors.js';
import type { OptimizerConfig } from '../optim.js';
import type { EpochRecord, History, TrainerOptions } from '../trainer.js';
import { tensorF32, type TensorEntry } from './safetensors.js';

export interface TrainerState {
  optimizer: OptimizerConfig;
  step: number;
  epoch: number;
  options: TrainerOptions;
  history: History;
}

const STOP_REASONS: readonly History['stopReason'][] = ['completed', 'early-stopping', 'aborted'];
/** Optimizer-state tensors that are sums of squares (a negative entry would make the update NaN). */
const NON_NEGATIVE_STATES = new Set(['exp_avg_sq', 'sum']);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function bad(why: string): never {
  throw new FormatError(`model file has no valid trainer state (save it with Trainer.save()): ${why}`);
}

/** Parses and checks the "trainer" metadata entry. */
export function parseTrainerState(text: string | undefined): TrainerState {
  if (typeof text !== 'string') bad('missing step or epoch');
  let s: unknown;
  try {
    s = JSON.parse(text);
  } catch (e) {
    bad((e as Error).message);
  }
  if (!isObject(s) || !Number.isSafeInteger(s.step) || !Number.isSafeInteger(s.epoch))
    bad('missing step or epoch');
  if (!isCount(s.step) || !isCount(s.epoch))
    bad(`step and epoch must be non-negative integers, got ${s.step} and ${s.epoch}`);
  if (!isObject(s.optimizer)) bad('optimizer must be an object such as { "name": "adam" }');
  if (s.options !== undefined && !isObject(s.options)) bad('options must be an object');
  return {
    optimizer: s.optimizer as OptimizerConfig,
    step: s.step,
    epoch: s.epoch,
    options: (s.options ?? {}) as TrainerOptions,
    history: parseHistory(s.history),
  };
}

function parseHistory(h: unknown): History {
  if (h === undefined) return { epochs: [], stopReason: 'completed', bestEpoch: null, steps: 0 };
  if (!isObject(h)) bad('history must be an object');
  const { epochs, stopReason, bestEpoch, steps } = h;
  if (!Array.isArray(epochs) || !epochs.every(isObject)) bad('history.epochs must be an array of records');
  if (!STOP_REASONS.includes(stopReason as History['stopReason']))
    bad(`history.stopReason must be one of ${STOP_REASONS.join(', ')}`);
  if (bestEpoch !== null && !isCount(bestEpoch))
    bad('history.bestEpoch must be null or a non-negative integer');
  if (!isCount(steps)) bad('history.steps must be a non-negative integer');
  return {
    epochs: epochs.map((r) => ({ ...r }) as unknown as EpochRecord),
    stopReason: stopReason as History['stopReason'],
    bestEpoch: bestEpoch as number | null,
    steps,
  };
}

/**
 * One optimizer-state tensor of a trainer file: F32, the parameter's shape, finite, and (for the
 * sums of squares) non-negative.
 */
export function optimizerStateTensor(
  tensors: Map<string, TensorEntry>,
  state: string,
  param: string,
  shape: readonly number[],
): Float32Array {
  const name = `optimizer.${state}.${param}`;
  if (!tensors.has(name)) throw new FormatError(`trainer state lacks a valid tensor ${name}`);
  const data = tensorF32(tensors, name, shape, true);
  if (NON_NEGATIVE_STATES.has(state))
    for (let i = 0; i < data.length; i++)
      if (data[i] < 0)
        throw new FormatError(`tensor "${name}" holds a negative sum of squares at index ${i}`);
  return data;
}
