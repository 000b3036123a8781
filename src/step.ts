/**
 * One training step over a data set, with every buffer it touches in the arena: the epoch's row
 * order (a permutation from the data stream), the batch copy into 'x', dynamic binarization, the
 * loss and its gradients, a divergence check, and the optimizer's update. The trainer only says
 * which batch of which epoch, and with which β; it never sees the layout.
 */
import { RNG_DATA, type LossParts, type Network, type Objective } from './network.js';
import type { Optimizer } from './optim.js';
import type { Matrix } from './data/preprocess.js';
import { DivergenceError } from './errors.js';

export type Reduction = 'sum' | 'mean' | 'dataset';

export interface StepOptions {
  batchSize: number;
  samples: number;
  objective: Objective;
  reduction: Reduction;
  shuffle: boolean;
  /** Draw a fresh Bernoulli sample of every batch (dynamic binarization). */
  binarize: boolean;
  /** A conditional model's conditions, one row per data row (copied beside each batch row into 'cond'). */
  cond?: Matrix | null;
}

export class TrainStep {
  readonly batches: number;
  private readonly D: number;

  constructor(
    private readonly net: Network,
    private readonly optimizer: Optimizer,
    private readonly data: Matrix,
    private readonly o: StepOptions,
  ) {
    this.D = data.cols;
    this.batches = Math.ceil(data.rows / o.batchSize);
    net.reserve({ dataRows: o.batchSize, sampleRows: o.batchSize * o.samples, orderRows: data.rows });
  }

  /** Rows in batch `bi`. */
  rowsIn(bi: number): number {
    return Math.min(this.o.batchSize, this.data.rows - bi * this.o.batchSize);
  }

  /** Sets the epoch's row order: a fresh permutation from the data stream, or 0…N−1. */
  newEpoch(): void {
    const N = this.data.rows;
    if (this.o.shuffle) {
      this.net.k.exports.rng_permutation(this.net.ptr('order'), N, this.net.rngState(RNG_DATA));
    } else {
      const order = this.net.order,
        o0 = this.net.orderAt;
      for (let i = 0; i < N; i++) order[o0 + i] = i;
    }
  }

  /**
   * Trains on batch `bi` of the epoch (with β for an ELBO objective). Throws DivergenceError, with
   * the weights as they were, when the loss or a gradient is not finite. The parts returned are
   * batch sums, in an object the next step reuses.
   */
  run(bi: number, beta: number, epoch: number): LossParts {
    const net = this.net,
      o = this.o,
      D = this.D,
      N = this.data.rows;
    const r0 = bi * o.batchSize,
      nb = this.rowsIn(bi);
    // the batch copy: a plain loop over rows of the data set in the epoch's order (no allocation)
    const order = net.order,
      o0 = net.orderAt,
      src = this.data.data,
      h = net.heap,
      x0 = net.ptr('x') >> 2;
    for (let i = 0; i < nb; i++) {
      const so = order[o0 + r0 + i] * D,
        d0 = x0 + i * D;
      for (let d = 0; d < D; d++) h[d0 + d] = src[so + d];
    }
    const cond = o.cond;
    if (cond) {
      const C = cond.cols,
        c0 = net.ptr('cond') >> 2,
        cs = cond.data;
      for (let i = 0; i < nb; i++) {
        const so = order[o0 + r0 + i] * C,
          d0 = c0 + i * C;
        for (let d = 0; d < C; d++) h[d0 + d] = cs[so + d];
      }
    }
    if (o.binarize) net.k.exports.rng_binarize(net.ptr('x'), net.ptr('x'), nb * D, net.rngState(RNG_DATA));
    if (o.objective.kind === 'elbo') o.objective.beta = beta;
    net.sampleEps(nb, o.samples); // the backward pass writes every gradient: no zeroing pass
    const scale = o.reduction === 'sum' ? 1 : o.reduction === 'mean' ? 1 / nb : N / nb;
    const parts = net.loss(nb, o.samples, o.objective, scale);
    if (!Number.isFinite(parts.loss) || !net.gradientsFinite()) {
      const step = this.optimizer.t + 1;
      throw new DivergenceError(
        step,
        `training diverged at step ${step} (epoch ${epoch + 1}, batch ${bi + 1}): the loss is ${parts.loss}` +
          `${Number.isFinite(parts.loss) ? ' but a gradient is not finite' : ''}; the weights are those from before this step. Try a lower learning rate or clipGradNorm.`,
      );
    }
    this.optimizer.step();
    return parts;
  }
}
