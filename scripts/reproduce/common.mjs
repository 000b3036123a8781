// What every reproduction shares: the machine record, the progress bar, training to an exact
// number of samples, the time budget, and writing a run's JSON, markdown table and plots.
// Only the public API (dist/) and the one charting module (dist/cli/plot.js) are used.
import os from 'node:os';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import cliProgress from 'cli-progress';
import { writeFileAtomic } from '../../dist/node.js';

/** The machine a run was measured on. */
export function machine() {
  return {
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? os.cpus().length,
    loadAverage1m: Number(os.loadavg()[0].toFixed(2)),
    node: process.version,
    platform: process.platform,
    arch: process.arch,
  };
}

/** The first `rows` rows of an N × cols split (a view, no copy). */
export function headRows(split, rows) {
  const n = Math.min(rows, split.rows);
  return {
    x: split.x.subarray(0, n * split.cols),
    rows: n,
    cols: split.cols,
    labels: split.labels?.subarray(0, n),
  };
}

/**
 * One progress bar over a run's whole work (training samples), with ETA. On a terminal it redraws
 * in place; otherwise (logs, tests) it prints a line every `logEveryMs` (or nothing when quiet).
 */
export class Progress {
  constructor({ total, label, quiet = false, logEveryMs = 20_000 }) {
    this.total = total;
    this.value = 0;
    this.quiet = quiet;
    this.bar = quiet
      ? null
      : new cliProgress.SingleBar(
          {
            format: `${label} [{bar}] {percentage}% | {value}/{total} samples | {stage} | {sps} samples/s | ETA {eta_formatted}`,
            hideCursor: process.stderr.isTTY === true,
            barsize: 24,
            etaBuffer: 200,
            noTTYOutput: true,
            notTTYSchedule: logEveryMs,
            stream: process.stderr,
          },
          cliProgress.Presets.shades_classic,
        );
    this.bar?.start(total, 0, { stage: '', sps: '—' });
  }
  /** Sets the samples done so far, the stage shown and the current rate. */
  update(value, stage, samplesPerSec) {
    this.value = value;
    this.bar?.update(Math.min(value, this.total), {
      stage,
      sps: samplesPerSec === undefined ? '—' : Math.round(samplesPerSec),
    });
  }
  /** A line above the bar (stderr). */
  log(line) {
    if (this.quiet) return;
    if (this.bar && process.stderr.isTTY) {
      process.stderr.write('\r\x1b[K');
      process.stderr.write(line + '\n');
      this.bar.render?.();
    } else process.stderr.write(line + '\n');
  }
  stop() {
    this.bar?.stop();
  }
}

/**
 * A wall-clock budget: `signal` aborts fit() when it runs out, and `exceeded` tells the run to
 * stop starting new work. Seconds ≤ 0 or undefined: no budget.
 */
export class Budget {
  constructor(seconds) {
    this.seconds = seconds ?? null;
    this.ctrl = new AbortController();
    this.t0 = performance.now();
    if (this.seconds) {
      this.timer = setTimeout(() => this.ctrl.abort(), this.seconds * 1000);
      this.timer.unref();
    }
  }
  get signal() {
    return this.ctrl.signal;
  }
  get exceeded() {
    return this.ctrl.signal.aborted;
  }
  get reason() {
    return `the --time-budget of ${this.seconds} s ran out`;
  }
  dispose() {
    clearTimeout(this.timer);
  }
}

/**
 * Trains `trainer` on `x` (rows × cols) until it has seen `target` samples in all (counting
 * `state.samples` already seen), in whole minibatches: fit() runs whole epochs, and a target inside
 * an epoch ends that epoch early through an AbortSignal (the next fit() starts a fresh shuffle, so
 * every sample is still a uniformly shuffled draw). `onBatch(samples, info)` sees every batch.
 * Returns false when the budget stopped it.
 */
export async function trainTo(trainer, x, rows, target, state, { budget, onBatch } = {}) {
  const B = trainer.options.batchSize;
  while (state.samples < target) {
    if (budget?.exceeded) return false;
    const ctrl = new AbortController();
    const stop = () => ctrl.abort();
    budget?.signal.addEventListener('abort', stop);
    const epochs = Math.max(1, Math.ceil((target - state.samples) / rows)); // fit() trains every row, the last batch partial
    const t0 = performance.now();
    let seen = 0;
    try {
      await trainer.fit(x, {
        epochs,
        signal: ctrl.signal,
        onBatchEnd: (b) => {
          const nb = b.batch === b.batches ? rows - (b.batches - 1) * B : B;
          seen += nb;
          state.samples += nb;
          onBatch?.(state.samples, b);
          if (state.samples >= target) ctrl.abort();
        },
      });
    } finally {
      budget?.signal.removeEventListener('abort', stop);
    }
    state.trainSeconds += (performance.now() - t0) / 1000;
    state.trainedSamples += seen;
  }
  return true;
}

/** A number for a table: fixed digits, or '—' for null/undefined. */
export const fmt = (v, digits = 2) =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : Number(v).toFixed(digits);

/** Thousands separators. */
export const int = (v) => Math.round(v).toLocaleString('en-US');

/** Seconds as "1 h 02 min", "3 min 04 s" or "12.3 s". */
export function duration(s) {
  if (s >= 3600)
    return `${Math.floor(s / 3600)} h ${String(Math.round((s % 3600) / 60)).padStart(2, '0')} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
  return `${s.toFixed(1)} s`;
}

/** Writes a text file atomically, making its directory. */
export async function writeText(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  await writeFileAtomic(path, text);
}

/** The line every table ends with: what ran, how long, on what, and whether it was cut short. */
export function runLine(r) {
  const cut = r.cutShort ? ` **Cut short: ${r.cutShortReason}.**` : '';
  return (
    `${r.quick ? '`--quick` run' : 'Run'} of ${r.date.slice(0, 10)}: ${int(r.samplesTrained)} training samples in ` +
    `${duration(r.trainSeconds)} (${int(r.samplesPerSec)} samples/s), wall time ${duration(r.wallSeconds)}, ` +
    `${r.build} build on ${r.threads} thread${r.threads === 1 ? '' : 's'}, ${r.machine.cpu} ` +
    `(${r.machine.cores} cores, load ${r.machine.loadAverage1m} at the start), Node ${r.machine.node}, seed ${r.seed}.${cut}`
  );
}
