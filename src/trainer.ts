/**
 * Trains a VAE: minibatch ELBO (or IWAE) with L samples, β and KL warm-up, free bits, learning-
 * rate schedules, validation, early stopping with restore-best, callbacks, AbortSignal
 * cancellation, and exact resume. Each step is a fixed list of wasm calls on the arena; the loop
 * yields to the event loop between batches (at most every `yieldMs`) so programs and pages stay
 * responsive. Losses reported are nats per datapoint.
 */
import { VAE, type Input, type LoadOptions } from './vae.js';
import { Optimizer, type OptimizerConfig } from './optim.js';
import { IWAE, RNG_DATA, RNG_TRAIN, elbo, type Objective } from './network.js';
import { TrainStep, type Reduction } from './step.js';
import { ConfigError, FormatError } from './errors.js';
import {
  any,
  bool,
  checkKeys,
  field,
  func,
  nested,
  nonNegative,
  oneOf,
  optional,
  parse,
  posInt,
  required,
  positive,
  type Parsed,
} from './options.js';
import type { TensorEntry } from './io/safetensors.js';
import { optimizerStateTensor, parseTrainerState } from './io/trainer-state.js';

export type LrSchedule =
  | { type: 'constant' }
  | { type: 'step'; stepSize: number; gamma?: number }
  | { type: 'exponential'; gamma: number }
  | { type: 'cosine'; epochs?: number; minLr?: number }
  /** Burda et al.'s IWAE schedule: 3^i passes at lr₀·10^(−i/7), i = 0…7 (3280 passes in all). */
  | { type: 'iwae' };

export interface TrainerOptions {
  optimizer?: OptimizerConfig;
  batchSize?: number;
  /** z samples per datapoint (L); for objective 'iwae' this is k. */
  samples?: number;
  objective?: 'elbo' | 'iwae';
  /** KL weight β (default 1). */
  beta?: number;
  /** Linear KL warm-up from 0 to β over this many optimizer steps or epochs. */
  klWarmup?: { steps?: number; epochs?: number };
  /** Free bits: a KL floor per latent dimension, in nats (0 = off). */
  freeBits?: number;
  /**
   * How the minibatch loss is scaled: 'sum' over the batch (PyTorch's examples/vae), 'mean' per
   * datapoint, or 'dataset' — the minibatch estimate of the whole data set's ELBO (N/B · sum).
   */
  reduction?: 'sum' | 'mean' | 'dataset';
  lrSchedule?: LrSchedule;
  shuffle?: boolean;
  earlyStopping?: { patience: number; minDelta?: number; restoreBest?: boolean };
  /** Longest time between yields to the event loop, ms (default 16). */
  yieldMs?: number;
}

export interface BatchInfo {
  epoch: number;
  batch: number;
  batches: number;
  step: number;
  loss: number;
  reconstruction: number;
  kl: number;
  beta: number;
  lr: number;
  samplesPerSec: number;
}
export interface EpochRecord {
  epoch: number;
  loss: number;
  reconstruction: number;
  kl: number;
  lr: number;
  beta: number;
  seconds: number;
  samplesPerSec: number;
  valLoss?: number;
  valReconstruction?: number;
  valKl?: number;
}
export interface History {
  epochs: EpochRecord[];
  stopReason: 'completed' | 'early-stopping' | 'aborted';
  bestEpoch: number | null;
  steps: number;
}

export interface FitOptions {
  epochs: number;
  validationData?: Input;
  /** z samples per validation datapoint (default 1, as PyTorch's example). */
  validationSamples?: number;
  onBatchEnd?: (info: BatchInfo) => void | Promise<void>;
  onEpochEnd?: (record: EpochRecord, history: History) => void | Promise<void>;
  signal?: AbortSignal;
}

const nextTick = (): Promise<void> =>
  new Promise((r) => (typeof setImmediate === 'function' ? setImmediate(r) : setTimeout(r, 0)));

const KL_WARMUP = { steps: optional(positive), epochs: optional(positive) };
const EARLY_STOPPING = {
  patience: required(posInt),
  minDelta: field(nonNegative, 0),
  restoreBest: field(bool, false),
};

/** Trainer's options, checked and defaulted here and nowhere else. */
const TRAINER = {
  optimizer: field<OptimizerConfig>(any, { name: 'adam', lr: 1e-3 }),
  batchSize: field(posInt, 128),
  samples: field(posInt, 1),
  objective: field(oneOf(['elbo', 'iwae'] as const), 'elbo'),
  beta: field(nonNegative, 1),
  klWarmup: optional((v, n) => {
    const w = parse(KL_WARMUP, v, n, n);
    if ((w.steps === undefined) === (w.epochs === undefined))
      throw new ConfigError('klWarmup needs exactly one of steps or epochs');
    return w;
  }),
  freeBits: field(nonNegative, 0),
  reduction: field(oneOf<Reduction>(['sum', 'mean', 'dataset']), 'sum'),
  lrSchedule: field<LrSchedule>((v) => checkSchedule(v as LrSchedule), { type: 'constant' }),
  shuffle: field(bool, true),
  earlyStopping: optional(nested('earlyStopping', EARLY_STOPPING)),
  yieldMs: field(nonNegative, 16),
};
export type ResolvedTrainerOptions = Parsed<typeof TRAINER>;

/** fit()'s options (WorkerTrainer.fit takes the same). */
export const FIT = {
  epochs: required(posInt),
  validationData: optional<Input>(any),
  validationSamples: field(posInt, 1),
  onBatchEnd: optional<NonNullable<FitOptions['onBatchEnd']>>(func),
  onEpochEnd: optional<NonNullable<FitOptions['onEpochEnd']>>(func),
  signal: optional<AbortSignal>(any),
};
export function parseFitOptions(opts: unknown): Parsed<typeof FIT> {
  if (!opts || typeof opts !== 'object') throw new ConfigError('fit needs options with at least epochs');
  return parse(FIT, opts, 'fit');
}

export class Trainer {
  readonly vae: VAE;
  readonly optimizer: Optimizer;
  readonly options: ResolvedTrainerOptions;
  private readonly lr0: number;
  /** Epochs completed (continues across fit() calls and resume). */
  epoch = 0;
  readonly history: History = { epochs: [], stopReason: 'completed', bestEpoch: null, steps: 0 };

  constructor(vae: VAE, opts: TrainerOptions = {}) {
    if (!(vae instanceof VAE)) throw new ConfigError('Trainer needs a VAE');
    const o = parse(TRAINER, opts, 'Trainer');
    if (o.objective === 'iwae' && (o.beta !== 1 || o.freeBits !== 0 || o.klWarmup)) {
      throw new ConfigError(
        "objective 'iwae' has no β, KL warm-up or free bits (they weight the ELBO's KL term, which the IWAE bound does not have)",
      );
    }
    this.vae = vae;
    this.options = o;
    this.optimizer = new Optimizer(vae.net, o.optimizer);
    this.lr0 = this.optimizer.lr;
    vae.net.reserve({ dataRows: o.batchSize, sampleRows: o.batchSize * o.samples });
  }

  /** The objective the options describe (a fresh value: a TrainStep sets its β every step). */
  private objective(): Objective {
    return this.options.objective === 'iwae' ? IWAE : elbo(this.options.beta, this.options.freeBits);
  }

  /** Learning rate for a (0-based) epoch under the schedule. */
  lrAt(epoch: number): number {
    const s = this.options.lrSchedule,
      lr0 = this.lr0;
    switch (s.type) {
      case 'step':
        return lr0 * (s.gamma ?? 0.1) ** Math.floor(epoch / s.stepSize);
      case 'exponential':
        return lr0 * s.gamma ** epoch;
      case 'cosine': {
        const T = s.epochs ?? 100,
          m = s.minLr ?? 0;
        return m + ((lr0 - m) * (1 + Math.cos((Math.PI * Math.min(epoch, T)) / T))) / 2;
      }
      case 'iwae': {
        let i = 0,
          end = 1;
        while (epoch >= end && i < 7) {
          i++;
          end += 3 ** i;
        }
        return lr0 * 10 ** (-i / 7);
      }
      default:
        return lr0;
    }
  }

  private betaAt(step: number, epochFrac: number): number {
    const w = this.options.klWarmup,
      b = this.options.beta;
    if (!w) return b;
    return b * Math.min(1, w.steps !== undefined ? step / w.steps : epochFrac / w.epochs!);
  }

  /** Trains for `epochs` more epochs. Resolves with the history (also on early stopping or abort). */
  async fit(x: Input, opts: FitOptions): Promise<History> {
    const f = parseFitOptions(opts);
    const vae = this.vae,
      o = this.options;
    const mode = vae.config.binarization;
    let data = vae.matrix(x, vae.config.inputDim, 'training data');
    if (mode === 'static' || mode === 'threshold') data = vae.binarizeOnce(data);
    const val =
      f.validationData !== undefined
        ? vae.binarizeOnce(vae.matrix(f.validationData, vae.config.inputDim, 'validation data'))
        : null;
    const N = data.rows,
      B = o.batchSize;
    if (B > N) throw new ConfigError(`batchSize ${B} is larger than the ${N} training rows`);
    const step = new TrainStep(vae.net, this.optimizer, data, {
      batchSize: B,
      samples: o.samples,
      objective: this.objective(),
      reduction: o.reduction,
      shuffle: o.shuffle,
      binarize: mode === 'dynamic',
    });
    const es = o.earlyStopping,
      batches = step.batches;
    let bestVal = Infinity,
      bad = 0,
      best: Float32Array | null = null;
    this.history.stopReason = 'completed';
    let lastYield = performance.now();
    for (let ep = 0; ep < f.epochs; ep++) {
      const epoch = this.epoch;
      this.optimizer.lr = this.lrAt(epoch);
      if (!Number.isFinite(this.optimizer.lr))
        throw new ConfigError(`the lrSchedule gives a non-finite learning rate at epoch ${epoch + 1}`);
      step.newEpoch();
      const t0 = performance.now();
      let sumLoss = 0,
        sumRec = 0,
        sumKl = 0,
        beta = o.beta;
      for (let bi = 0; bi < batches; bi++) {
        if (f.signal?.aborted) {
          this.history.stopReason = 'aborted';
          return this.history;
        }
        beta = this.betaAt(this.optimizer.t, epoch + bi / batches);
        const p = step.run(bi, beta, epoch);
        this.history.steps = this.optimizer.t;
        sumLoss += p.loss;
        sumRec += p.rec;
        sumKl += p.kl;
        if (f.onBatchEnd) {
          const nb = step.rowsIn(bi),
            el = (performance.now() - t0) / 1000;
          await f.onBatchEnd({
            epoch: epoch + 1,
            batch: bi + 1,
            batches,
            step: this.optimizer.t,
            loss: p.loss / nb,
            reconstruction: p.rec / nb,
            kl: p.kl / nb,
            beta,
            lr: this.optimizer.lr,
            samplesPerSec: (bi * B + nb) / el,
          });
        }
        if (performance.now() - lastYield > o.yieldMs) {
          await nextTick();
          lastYield = performance.now();
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      const rec: EpochRecord = {
        epoch: epoch + 1,
        loss: sumLoss / N,
        reconstruction: sumRec / N,
        kl: sumKl / N,
        lr: this.optimizer.lr,
        beta,
        seconds,
        samplesPerSec: N / seconds,
      };
      if (val) {
        const v = vae.evaluate(val, { samples: f.validationSamples });
        rec.valLoss = v.loss;
        rec.valReconstruction = v.reconstruction;
        rec.valKl = v.kl;
      }
      this.epoch += 1;
      this.history.epochs.push(rec);
      let stop = false;
      if (es) {
        const score = rec.valLoss ?? rec.loss;
        if (score < bestVal - es.minDelta) {
          bestVal = score;
          bad = 0;
          this.history.bestEpoch = rec.epoch;
          if (es.restoreBest) best = vae.net.snapshot().params;
        } else if (++bad >= es.patience) {
          stop = true;
        }
      }
      if (f.onEpochEnd) await f.onEpochEnd(rec, this.history);
      if (stop) {
        if (best) vae.net.restore({ params: best });
        this.history.stopReason = 'early-stopping';
        break;
      }
      await nextTick();
      lastYield = performance.now();
    }
    return this.history;
  }

  /** Saves the model with the optimizer state, step count and RNG states, for an exact resume. */
  save(): Uint8Array {
    const net = this.vae.net;
    const tensors = new Map<string, TensorEntry>();
    this.optimizer.stateNames.forEach((state, si) => {
      for (const s of net.paramSlots)
        tensors.set(`optimizer.${state}.${s.name}`, {
          dtype: 'F32',
          shape: [...s.shape],
          data: net.view(s, si).slice(),
        });
    });
    for (const [name, stream] of RNG_TENSORS)
      tensors.set(name, { dtype: 'U32', shape: [4], data: net.rngWords(stream) });
    const state = {
      optimizer: this.options.optimizer,
      step: this.optimizer.t,
      epoch: this.epoch,
      options: this.options,
      history: this.history,
    };
    return this.vae.save({ tensors, metadata: { trainer: JSON.stringify(state) } });
  }

  /**
   * Restores a model and its trainer from Trainer.save() output; fit() then continues exactly, on
   * any thread count (`opts` as VAE.load's: build, threads).
   */
  static async resume(bytes: Uint8Array, opts: LoadOptions = {}): Promise<Trainer> {
    const { model, file } = await VAE.fromFile(bytes, opts);
    const state = parseTrainerState(file.metadata.trainer);
    const t = new Trainer(model, { ...state.options, optimizer: state.optimizer });
    const net = model.net;
    t.optimizer.stateNames.forEach((name, si) => {
      for (const s of net.paramSlots)
        net.view(s, si).set(optimizerStateTensor(file.tensors, name, s.name, s.shape));
    });
    for (const [name, stream] of RNG_TENSORS) {
      const tt = file.tensors.get(name);
      if (!tt || tt.dtype !== 'U32' || tt.data.length !== 4)
        throw new FormatError(`trainer state lacks a valid ${name} tensor`);
      net.rngWords(stream, tt.data as Uint32Array);
    }
    t.optimizer.t = state.step;
    t.epoch = state.epoch;
    Object.assign(t.history, state.history); // a fresh object of checked fields (parseTrainerState)
    return t;
  }
}

/** The RNG streams a trainer file carries, by tensor name. */
const RNG_TENSORS = [
  ['rng.train', RNG_TRAIN],
  ['rng.data', RNG_DATA],
] as const;

function checkSchedule(s: LrSchedule): LrSchedule {
  const known: Record<string, string[]> = {
    constant: ['type'],
    step: ['type', 'stepSize', 'gamma'],
    exponential: ['type', 'gamma'],
    cosine: ['type', 'epochs', 'minLr'],
    iwae: ['type'],
  };
  if (!s || typeof s !== 'object' || !Object.hasOwn(known, s.type))
    throw new ConfigError(
      `unknown lrSchedule type ${JSON.stringify((s as { type?: unknown })?.type)}; expected one of ${Object.keys(known).join(', ')}`,
    );
  checkKeys(s, known[s.type], `lrSchedule ${s.type}`);
  if (s.type === 'step' && !(Number.isSafeInteger(s.stepSize) && s.stepSize > 0))
    throw new ConfigError('lrSchedule step needs a positive integer stepSize (epochs)');
  const finite = (v: unknown, lo: number) => typeof v === 'number' && Number.isFinite(v) && v >= lo;
  if (s.type === 'exponential' && !(finite(s.gamma, 0) && s.gamma > 0))
    throw new ConfigError('lrSchedule exponential needs a finite gamma > 0');
  if (s.type === 'step' && s.gamma !== undefined && !finite(s.gamma, 0))
    throw new ConfigError('lrSchedule step needs a finite gamma ≥ 0');
  if (s.type === 'cosine' && s.epochs !== undefined && !(Number.isSafeInteger(s.epochs) && s.epochs > 0))
    throw new ConfigError('lrSchedule cosine needs a positive integer epochs');
  if (s.type === 'cosine' && s.minLr !== undefined && !finite(s.minLr, 0))
    throw new ConfigError('lrSchedule cosine needs a finite minLr ≥ 0');
  return s;
}
