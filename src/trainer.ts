/**
 * Trains a VAE: minibatch ELBO (or IWAE) with L samples, β and KL warm-up, free bits, learning-
 * rate schedules, validation, early stopping with restore-best, callbacks, AbortSignal
 * cancellation, and exact resume. Each step is a fixed list of wasm calls on the arena; the loop
 * yields to the event loop between batches (at most every `yieldMs`) so programs and pages stay
 * responsive. Losses reported are nats per datapoint.
 */
import { VAE, type Input } from './vae.js';
import { Optimizer, type OptimizerConfig } from './optim.js';
import { RNG_DATA, RNG_TRAIN } from './network.js';
import { ensureMemory } from './arena.js';
import { ConfigError, DivergenceError, FormatError, checkKeys } from './errors.js';
import type { TensorEntry } from './io/safetensors.js';
import type { BuildName } from './wasm.js';

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

const TRAINER_KEYS = ['optimizer', 'batchSize', 'samples', 'objective', 'beta', 'klWarmup', 'freeBits', 'reduction', 'lrSchedule', 'shuffle', 'earlyStopping', 'yieldMs'];
const FIT_KEYS = ['epochs', 'validationData', 'validationSamples', 'onBatchEnd', 'onEpochEnd', 'signal'];

export interface BatchInfo { epoch: number; batch: number; batches: number; step: number; loss: number; reconstruction: number; kl: number; beta: number; lr: number; samplesPerSec: number }
export interface EpochRecord {
  epoch: number; loss: number; reconstruction: number; kl: number; lr: number; beta: number;
  seconds: number; samplesPerSec: number;
  valLoss?: number; valReconstruction?: number; valKl?: number;
}
export interface History { epochs: EpochRecord[]; stopReason: 'completed' | 'early-stopping' | 'aborted'; bestEpoch: number | null; steps: number }

export interface FitOptions {
  epochs: number;
  validationData?: Input;
  /** z samples per validation datapoint (default 1, as PyTorch's example). */
  validationSamples?: number;
  onBatchEnd?: (info: BatchInfo) => void | Promise<void>;
  onEpochEnd?: (record: EpochRecord, history: History) => void | Promise<void>;
  signal?: AbortSignal;
}

const isPosInt = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;
const nextTick = (): Promise<void> => new Promise((r) => (typeof setImmediate === 'function' ? setImmediate(r) : setTimeout(r, 0)));

export class Trainer {
  readonly vae: VAE;
  readonly optimizer: Optimizer;
  readonly options: Required<Omit<TrainerOptions, 'optimizer' | 'klWarmup' | 'earlyStopping'>> & Pick<TrainerOptions, 'klWarmup' | 'earlyStopping'>;
  private readonly optimizerConfig: OptimizerConfig;
  private readonly lr0: number;
  /** Epochs completed (continues across fit() calls and resume). */
  epoch = 0;
  readonly history: History = { epochs: [], stopReason: 'completed', bestEpoch: null, steps: 0 };

  constructor(vae: VAE, opts: TrainerOptions = {}) {
    if (!(vae instanceof VAE)) throw new ConfigError('Trainer needs a VAE');
    checkKeys(opts, TRAINER_KEYS, 'Trainer');
    const o = {
      batchSize: opts.batchSize ?? 128, samples: opts.samples ?? 1, objective: opts.objective ?? 'elbo', beta: opts.beta ?? 1,
      klWarmup: opts.klWarmup, freeBits: opts.freeBits ?? 0, reduction: opts.reduction ?? 'sum',
      lrSchedule: opts.lrSchedule ?? { type: 'constant' }, shuffle: opts.shuffle ?? true, earlyStopping: opts.earlyStopping, yieldMs: opts.yieldMs ?? 16,
    } as Trainer['options'];
    if (!isPosInt(o.batchSize)) throw new ConfigError(`batchSize must be a positive integer, got ${o.batchSize}`);
    if (!isPosInt(o.samples)) throw new ConfigError(`samples must be a positive integer, got ${o.samples}`);
    if (o.objective !== 'elbo' && o.objective !== 'iwae') throw new ConfigError(`objective must be 'elbo' or 'iwae', got ${String(o.objective)}`);
    if (!(o.beta >= 0 && Number.isFinite(o.beta))) throw new ConfigError(`beta must be a non-negative number, got ${o.beta}`);
    if (!(o.freeBits >= 0 && Number.isFinite(o.freeBits))) throw new ConfigError(`freeBits must be a non-negative number, got ${o.freeBits}`);
    if (!['sum', 'mean', 'dataset'].includes(o.reduction)) throw new ConfigError(`reduction must be 'sum', 'mean' or 'dataset', got ${String(o.reduction)}`);
    if (o.klWarmup) {
      checkKeys(o.klWarmup, ['steps', 'epochs'], 'klWarmup');
      const { steps, epochs } = o.klWarmup;
      if ((steps === undefined) === (epochs === undefined)) throw new ConfigError('klWarmup needs exactly one of steps or epochs');
      if (!((steps ?? epochs)! > 0)) throw new ConfigError('klWarmup length must be positive');
    }
    if (o.earlyStopping) {
      checkKeys(o.earlyStopping, ['patience', 'minDelta', 'restoreBest'], 'earlyStopping');
      if (!isPosInt(o.earlyStopping.patience)) throw new ConfigError(`earlyStopping.patience must be a positive integer, got ${o.earlyStopping.patience}`);
    }
    checkSchedule(o.lrSchedule);
    this.vae = vae;
    this.options = o;
    this.optimizerConfig = opts.optimizer ?? { name: 'adam', lr: 1e-3 };
    this.optimizer = new Optimizer(vae.net, this.optimizerConfig);
    this.lr0 = this.optimizer.lr;
    vae.net.reserve({ batch: o.batchSize, samples: o.samples });
  }

  /** Learning rate for a (0-based) epoch under the schedule. */
  lrAt(epoch: number): number {
    const s = this.options.lrSchedule, lr0 = this.lr0;
    switch (s.type) {
      case 'step': return lr0 * (s.gamma ?? 0.1) ** Math.floor(epoch / s.stepSize);
      case 'exponential': return lr0 * s.gamma ** epoch;
      case 'cosine': { const T = s.epochs ?? 100, m = s.minLr ?? 0; return m + (lr0 - m) * (1 + Math.cos(Math.PI * Math.min(epoch, T) / T)) / 2; }
      case 'iwae': { let i = 0, end = 1; while (epoch >= end && i < 7) { i++; end += 3 ** i; } return lr0 * 10 ** (-i / 7); }
      default: return lr0;
    }
  }

  private betaAt(step: number, epochFrac: number): number {
    const w = this.options.klWarmup, b = this.options.beta;
    if (!w) return b;
    return b * Math.min(1, w.steps !== undefined ? step / w.steps : epochFrac / w.epochs!);
  }

  /** Trains for `epochs` more epochs. Resolves with the history (also on early stopping or abort). */
  async fit(x: Input, opts: FitOptions): Promise<History> {
    if (!opts || typeof opts !== 'object') throw new ConfigError('fit needs options with at least epochs');
    checkKeys(opts, FIT_KEYS, 'fit');
    if (!isPosInt(opts.epochs)) throw new ConfigError(`epochs must be a positive integer, got ${opts.epochs}`);
    const vae = this.vae, net = vae.net, e = vae.kernels.exports, o = this.options;
    const mode = vae.config.binarization;
    let data = vae.matrix(x, vae.config.inputDim, 'training data');
    if (mode === 'static' || mode === 'threshold') data = vae.binarizeOnce(data);
    const val = opts.validationData !== undefined ? vae.binarizeOnce(vae.matrix(opts.validationData, vae.config.inputDim, 'validation data')) : null;
    const N = data.rows, B = o.batchSize, L = o.samples, D = vae.config.inputDim;
    if (B > N) throw new ConfigError(`batchSize ${B} is larger than the ${N} training rows`);
    net.reserve({ batch: B, samples: L });
    const batches = Math.ceil(N / B);
    const scaleFor = (b: number) => (o.reduction === 'sum' ? 1 : o.reduction === 'mean' ? 1 / b : N / b);
    const es = o.earlyStopping;
    let bestVal = Infinity, bad = 0, best: Float32Array | null = null;
    this.history.stopReason = 'completed';
    let lastYield = performance.now();
    for (let ep = 0; ep < opts.epochs; ep++) {
      const epoch = this.epoch;
      this.optimizer.lr = this.lrAt(epoch);
      // the epoch's order: a permutation from the data stream, placed after the arena's end
      const permPtr = Math.ceil(net.layout.end / 16) * 16;
      ensureMemory(vae.kernels, permPtr + N * 4 + 64);
      if (o.shuffle) e.rng_permutation(permPtr, N, net.rngState(RNG_DATA));
      const perm = new Uint32Array(vae.kernels.memory.buffer, permPtr, N).slice();
      if (!o.shuffle) for (let i = 0; i < N; i++) perm[i] = i;
      const t0 = performance.now();
      let sumLoss = 0, sumRec = 0, sumKl = 0, beta = o.beta;
      for (let bi = 0; bi < batches; bi++) {
        if (opts.signal?.aborted) { this.history.stopReason = 'aborted'; return this.history; }
        const r0 = bi * B, nb = Math.min(B, N - r0);
        const h = net.heap, src = data.data, x0 = net.p.x >> 2; // re-read: evaluate() may have re-planned the arena
        for (let i = 0; i < nb; i++) {
          const so = perm[r0 + i] * D, dof = x0 + i * D;
          for (let d = 0; d < D; d++) h[dof + d] = src[so + d];
        }
        if (vae.config.binarization === 'dynamic') e.rng_binarize(net.p.x, net.p.x, nb * D, net.rngState(RNG_DATA));
        const step = this.optimizer.t;
        beta = this.betaAt(step, epoch + bi / batches);
        net.sampleEps(nb, L); // the backward pass writes every gradient: no zeroing pass
        const p = net.lossAndGrad(nb, L, { beta, scale: scaleFor(nb), freeBits: o.freeBits, objective: o.objective });
        if (!Number.isFinite(p.loss) || e.f32_find_nonfinite(net.layout.grads, net.paramFloats) >= 0) {
          throw new DivergenceError(step + 1, `training diverged at step ${step + 1} (epoch ${epoch + 1}, batch ${bi + 1}): the loss is ${p.loss}` +
            `${Number.isFinite(p.loss) ? ' but a gradient is not finite' : ''}; the weights are those from before this step. Try a lower learning rate or clipGradNorm.`);
        }
        this.optimizer.step();
        this.history.steps = this.optimizer.t;
        sumLoss += p.loss; sumRec += p.rec; sumKl += p.kl;
        if (opts.onBatchEnd) {
          const el = (performance.now() - t0) / 1000;
          await opts.onBatchEnd({ epoch: epoch + 1, batch: bi + 1, batches, step: this.optimizer.t, loss: p.loss / nb, reconstruction: p.rec / nb, kl: p.kl / nb, beta, lr: this.optimizer.lr, samplesPerSec: (r0 + nb) / el });
        }
        if (performance.now() - lastYield > o.yieldMs) { await nextTick(); lastYield = performance.now(); }
      }
      const seconds = (performance.now() - t0) / 1000;
      const rec: EpochRecord = { epoch: epoch + 1, loss: sumLoss / N, reconstruction: sumRec / N, kl: sumKl / N, lr: this.optimizer.lr, beta, seconds, samplesPerSec: N / seconds };
      if (val) {
        const v = vae.evaluate(val, { samples: opts.validationSamples ?? 1 });
        net.reserve({ batch: B, samples: L });
        rec.valLoss = v.loss; rec.valReconstruction = v.reconstruction; rec.valKl = v.kl;
      }
      this.epoch += 1;
      this.history.epochs.push(rec);
      let stop = false;
      if (es) {
        const score = rec.valLoss ?? rec.loss;
        if (score < bestVal - (es.minDelta ?? 0)) {
          bestVal = score; bad = 0; this.history.bestEpoch = rec.epoch;
          if (es.restoreBest) best = net.heap.slice(net.layout.params >> 2, (net.layout.params >> 2) + net.paramFloats);
        } else if (++bad >= es.patience) {
          stop = true;
        }
      }
      if (opts.onEpochEnd) await opts.onEpochEnd(rec, this.history);
      if (stop) {
        if (best) net.heap.set(best, net.layout.params >> 2);
        this.history.stopReason = 'early-stopping';
        break;
      }
      await nextTick(); lastYield = performance.now();
    }
    return this.history;
  }

  /** Saves the model with the optimizer state, step count and RNG states, for an exact resume. */
  save(): Uint8Array {
    const net = this.vae.net, L = net.layout;
    const tensors = new Map<string, TensorEntry>();
    const slots = stateSlotNames(this.optimizer.name);
    slots.forEach((slot, si) => {
      for (const l of net.layers) for (const s of [l.weight, l.bias]) {
        const data = net.heap.slice((L.state[si] + s.offset) >> 2, ((L.state[si] + s.offset) >> 2) + s.floats);
        tensors.set(`optimizer.${slot}.${s.name}`, { dtype: 'F32', shape: [...s.shape], data });
      }
    });
    for (const [name, which] of [['rng.train', RNG_TRAIN], ['rng.data', RNG_DATA]] as const) {
      tensors.set(name, { dtype: 'U32', shape: [4], data: new Uint32Array(this.vae.kernels.memory.buffer, net.rngState(which), 4).slice() });
    }
    const state = { optimizer: this.optimizerConfig, step: this.optimizer.t, epoch: this.epoch, options: this.options, history: this.history };
    return this.vae.save({ tensors, metadata: { trainer: JSON.stringify(state) } });
  }

  /** Restores a model and its trainer from Trainer.save() output; fit() then continues exactly. */
  static async resume(bytes: Uint8Array, opts: { build?: BuildName } = {}): Promise<Trainer> {
    const { model, file } = await VAE.fromFile(bytes, opts);
    let state: { optimizer: OptimizerConfig; step: number; epoch: number; options: TrainerOptions; history: History };
    try {
      state = JSON.parse(file.metadata.trainer ?? 'null');
      if (!state || typeof state !== 'object' || !Number.isSafeInteger(state.step) || !Number.isSafeInteger(state.epoch)) throw new Error('missing step or epoch');
    } catch (err) {
      throw new FormatError(`model file has no valid trainer state (save it with Trainer.save()): ${(err as Error).message}`);
    }
    const t = new Trainer(model, { ...state.options, optimizer: state.optimizer });
    const net = model.net, L = net.layout;
    const slots = stateSlotNames(t.optimizer.name);
    slots.forEach((slot, si) => {
      for (const l of net.layers) for (const s of [l.weight, l.bias]) {
        const tt = file.tensors.get(`optimizer.${slot}.${s.name}`);
        if (!tt || tt.dtype !== 'F32' || tt.data.length !== s.floats) throw new FormatError(`trainer state lacks a valid tensor optimizer.${slot}.${s.name}`);
        net.heap.set(tt.data as Float32Array, (L.state[si] + s.offset) >> 2);
      }
    });
    for (const [name, which] of [['rng.train', RNG_TRAIN], ['rng.data', RNG_DATA]] as const) {
      const tt = file.tensors.get(name);
      if (!tt || tt.dtype !== 'U32' || tt.data.length !== 4) throw new FormatError(`trainer state lacks a valid ${name} tensor`);
      new Uint32Array(model.kernels.memory.buffer, net.rngState(which), 4).set(tt.data as Uint32Array);
    }
    t.optimizer.t = state.step;
    t.epoch = state.epoch;
    Object.assign(t.history, state.history);
    return t;
  }
}

/** The optimizer-state tensors in the arena's state slots, by PyTorch's state names. */
function stateSlotNames(name: Optimizer['name']): string[] {
  return name === 'adam' || name === 'adamw' ? ['exp_avg', 'exp_avg_sq'] : name === 'adagrad' ? ['sum'] : ['momentum_buffer'];
}


function checkSchedule(s: LrSchedule): void {
  const known: Record<string, string[]> = { constant: ['type'], step: ['type', 'stepSize', 'gamma'], exponential: ['type', 'gamma'], cosine: ['type', 'epochs', 'minLr'], iwae: ['type'] };
  if (!s || !(s.type in known)) throw new ConfigError(`unknown lrSchedule type ${JSON.stringify((s as { type?: unknown })?.type)}; expected one of ${Object.keys(known).join(', ')}`);
  checkKeys(s, known[s.type], `lrSchedule ${s.type}`);
  if (s.type === 'step' && !isPosInt(s.stepSize)) throw new ConfigError('lrSchedule step needs a positive integer stepSize (epochs)');
  if (s.type === 'exponential' && !(s.gamma > 0)) throw new ConfigError('lrSchedule exponential needs gamma > 0');
}

