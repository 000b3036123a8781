/**
 * Optimizers over the flat parameter arena (one wasm loop per step), PyTorch 1.13 semantics:
 * Adam, AdamW, Adagrad (K&W's choice), SGD with momentum/Nesterov; optional global gradient-norm
 * clipping (torch.nn.utils.clip_grad_norm_: coef = max_norm / (‖g‖ + 1e-6), applied when < 1).
 */
import type { Network } from './network.js';
import { ConfigError } from './errors.js';
import { checkKeys, describe } from './options.js';

export type OptimizerConfig =
  | {
      name: 'adam' | 'adamw';
      lr?: number;
      betas?: [number, number];
      eps?: number;
      weightDecay?: number;
      clipGradNorm?: number;
    }
  | {
      name: 'adagrad';
      lr?: number;
      eps?: number;
      lrDecay?: number;
      weightDecay?: number;
      clipGradNorm?: number;
    }
  | {
      name: 'sgd';
      lr: number;
      momentum?: number;
      dampening?: number;
      nesterov?: boolean;
      weightDecay?: number;
      clipGradNorm?: number;
    };

/**
 * Each optimizer's options and the optimizer-state tensors it keeps in the arena's state slots,
 * by PyTorch's state names (the names Trainer.save() writes).
 */
const OPTIMIZERS = {
  adam: { keys: ['lr', 'betas', 'eps', 'weightDecay', 'clipGradNorm'], state: ['exp_avg', 'exp_avg_sq'] },
  adamw: { keys: ['lr', 'betas', 'eps', 'weightDecay', 'clipGradNorm'], state: ['exp_avg', 'exp_avg_sq'] },
  adagrad: { keys: ['lr', 'eps', 'lrDecay', 'weightDecay', 'clipGradNorm'], state: ['sum'] },
  sgd: {
    keys: ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay', 'clipGradNorm'],
    state: ['momentum_buffer'],
  },
} as const;
export type OptimizerName = keyof typeof OPTIMIZERS;

/** Optimizer-state slots the arena keeps: as many as the optimizer that needs most. */
export const STATE_SLOTS = Math.max(...Object.values(OPTIMIZERS).map((o) => o.state.length));

/** The state tensors optimizer `name` keeps, by PyTorch's names, one per arena state slot. */
export function optimizerStateNames(name: string): readonly string[] {
  if (!Object.hasOwn(OPTIMIZERS, name)) throw new ConfigError(`unknown optimizer ${describe(name)}`);
  return OPTIMIZERS[name as OptimizerName].state;
}

function num(v: unknown, name: string, dflt: number, ok: (x: number) => boolean, what: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v))
    throw new ConfigError(`optimizer option ${name} must be ${what}, got ${describe(v)}`);
  return v;
}

export class Optimizer {
  readonly name: 'adam' | 'adamw' | 'adagrad' | 'sgd';
  /** Learning rate; schedules change it between steps. */
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly lrDecay: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly clipGradNorm: number;
  /** Steps taken so far (PyTorch's `step` state). */
  t = 0;
  /** Gradient norm before clipping at the last step (NaN when clipping is off). */
  lastGradNorm = NaN;

  /** The state tensors this optimizer keeps, by PyTorch's names, one per arena state slot. */
  get stateNames(): readonly string[] {
    return optimizerStateNames(this.name);
  }

  constructor(
    private readonly net: Network,
    cfg: OptimizerConfig,
  ) {
    if (typeof cfg === 'string')
      throw new ConfigError(
        `optimizer must be an object such as { name: ${JSON.stringify(cfg)} }, got the string ${JSON.stringify(cfg)}`,
      );
    if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg))
      throw new ConfigError(`optimizer must be an object such as { name: "adam" }, got ${describe(cfg)}`);
    if (!Object.hasOwn(OPTIMIZERS, cfg.name)) {
      throw new ConfigError(
        `unknown optimizer ${describe((cfg as { name?: unknown })?.name)}; expected one of ${Object.keys(OPTIMIZERS).join(', ')}`,
      );
    }
    checkKeys(cfg, ['name', ...OPTIMIZERS[cfg.name].keys], `optimizer ${cfg.name}`);
    const c = cfg as Record<string, unknown>;
    this.name = cfg.name;
    const pos = (x: number) => x > 0,
      nonneg = (x: number) => x >= 0,
      unit = (x: number) => x >= 0 && x < 1;
    const defaultLr = cfg.name === 'adagrad' ? 1e-2 : 1e-3;
    if (cfg.name === 'sgd' && c.lr === undefined) throw new ConfigError('optimizer sgd needs lr');
    this.lr = num(c.lr, 'lr', defaultLr, pos, 'a positive number');
    const betas = (c.betas ?? [0.9, 0.999]) as unknown;
    if (!Array.isArray(betas) || betas.length !== 2)
      throw new ConfigError(`optimizer option betas must be [beta1, beta2], got ${JSON.stringify(betas)}`);
    this.beta1 = num(betas[0], 'betas[0]', 0.9, unit, 'in [0, 1)');
    this.beta2 = num(betas[1], 'betas[1]', 0.999, unit, 'in [0, 1)');
    this.eps = num(c.eps, 'eps', cfg.name === 'adagrad' ? 1e-10 : 1e-8, pos, 'a positive number');
    this.weightDecay = num(
      c.weightDecay,
      'weightDecay',
      cfg.name === 'adamw' ? 1e-2 : 0,
      nonneg,
      'non-negative',
    );
    this.lrDecay = num(c.lrDecay, 'lrDecay', 0, nonneg, 'non-negative');
    this.momentum = num(c.momentum, 'momentum', 0, nonneg, 'non-negative');
    this.dampening = num(c.dampening, 'dampening', 0, nonneg, 'non-negative');
    this.nesterov = Boolean(c.nesterov);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw new ConfigError('Nesterov momentum requires momentum > 0 and dampening = 0');
    this.clipGradNorm = num(c.clipGradNorm, 'clipGradNorm', 0, nonneg, 'non-negative (0 = off)');
  }

  /** One update of every parameter from the gradients in the arena. */
  step(): void {
    const n = this.net,
      e = n.k.exports,
      L = n.layout,
      N = n.paramFloats;
    let gs = 1;
    if (this.clipGradNorm > 0) {
      const norm = Math.sqrt(e.f32_sumsq(L.grads, N));
      this.lastGradNorm = norm;
      const coef = this.clipGradNorm / (norm + 1e-6);
      if (coef < 1) gs = coef;
    }
    this.t += 1;
    const t = this.t;
    switch (this.name) {
      case 'adam':
      case 'adamw': {
        const bc1 = 1 - this.beta1 ** t,
          bc2 = 1 - this.beta2 ** t;
        n.par.adam_step(
          L.params,
          L.grads,
          L.state[0],
          L.state[1],
          N,
          this.lr,
          this.beta1,
          this.beta2,
          this.eps,
          this.weightDecay,
          this.lr / bc1,
          Math.sqrt(bc2),
          gs,
          this.name === 'adamw',
        );
        break;
      }
      case 'adagrad':
        n.par.adagrad_step(
          L.params,
          L.grads,
          L.state[0],
          N,
          this.lr / (1 + (t - 1) * this.lrDecay),
          this.eps,
          this.weightDecay,
          gs,
        );
        break;
      case 'sgd':
        n.par.sgd_step(
          L.params,
          L.grads,
          L.state[0],
          N,
          this.lr,
          this.momentum,
          this.dampening,
          this.weightDecay,
          this.nesterov,
          t === 1,
          gs,
        );
        break;
    }
  }

  /** Clears the optimizer state (moments, sums, momentum buffers) and the step count. */
  reset(): void {
    const L = this.net.layout;
    for (const s of L.state) this.net.k.exports.f32_fill(s, this.net.paramFloats, 0);
    this.t = 0;
  }
}
