/**
 * WorkerTrainer: Trainer.fit off the main thread, so a page never freezes while a model trains.
 *
 * The worker gets a copy of the VAE — the same compiled wasm module (posted, not refetched), the
 * same weights and RNG states — and runs a real Trainer there with the options given here, so it
 * computes exactly what `new Trainer(vae, opts).fit(x, fitOpts)` would on the main thread. The
 * training data is posted once per fit (copied, or transferred with `transferData`). Progress comes
 * back as the same onBatchEnd / onEpochEnd callbacks (BatchInfo with the loss parts and
 * samples/s); an AbortSignal stops training after the current batch; and the weights are copied
 * back into the main-thread VAE at every epoch end and when fit ends (and, with `syncWeightsMs`,
 * during epochs too), so the VAE can decode and sample live while training goes on.
 *
 * Each of those copies comes with the optimizer state and the trainer's position (a checkpoint),
 * which this side keeps: should the worker die (killed, out of memory, a crashed tab's worker) or
 * be terminated, save() still returns the trainer file of the last checkpoint, and
 * Trainer.resume(bytes) continues from it bit-exactly as the worker's trainer would have.
 *
 * Where the worker comes from: in the normal build a module worker from `./worker.js` next to this
 * file (a static `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })`, which
 * Vite and webpack bundle); from a cross-origin script (a CDN) a same-origin Blob worker that
 * imports it; in the single-file build a Blob URL holding the inlined worker code; in Node a
 * worker_threads thread (registered by the Node entry). Pass `worker` to start it yourself.
 */
import { VAE, type Input } from '../vae.js';
import type {
  TrainerOptions,
  ResolvedTrainerOptions,
  FitOptions,
  History,
  BatchInfo,
  EpochRecord,
  TrainerCheckpoint,
} from '../trainer.js';
import { ConfigError, VaeError, WasmError } from '../errors.js';
import { compileKernels } from '../wasm.js';
import { parseFitOptions } from '../trainer.js';
import { describeInput } from '../vae.js'; // the preprocessing record, as Trainer.fit leaves it
import { any, field, nonNegative, optional, parse, bool, posInt } from '../options.js';
import {
  takeSnapshot,
  applySnapshot,
  checkCheckpoint,
  snapshotTransfer,
  deserializeError,
  type CheckpointPart,
  type Snapshot,
  type FromWorker,
  type ToWorker,
  type DataMessage,
} from './protocol.js';
// the main side's copy of the worker trainer's last checkpoint, and its file
import { encodeTrainerFile } from '../trainer.js';
import { optimizerStateNames } from '../optim.js';

/** The part of the Worker interface a WorkerTrainer uses (a DOM Worker fits it; so does the Node adapter). */
export interface WorkerLike {
  postMessage(msg: unknown, transfer: Transferable[]): void;
  addEventListener(
    type: 'message' | 'error' | 'messageerror',
    fn: (e: { data: unknown; message?: string }) => void,
  ): void;
  terminate(): void;
  /** Node only: keep the process alive while a request runs. */
  ref?(): void;
  unref?(): void;
}

export interface WorkerTrainerOptions {
  /** A worker running wasm-vae's worker script, or a function that starts one; default: see the module doc. */
  worker?: WorkerLike | (() => WorkerLike);
  /** Transfer the training (and validation) data's ArrayBuffer to the worker instead of copying it; the caller's array is detached. Default false. */
  transferData?: boolean;
  /**
   * Also copy the weights into the main-thread VAE during epochs, at most every this many ms
   * (0 = after every batch). Default: only at each epoch's end and when fit ends.
   */
  syncWeightsMs?: number;
  /**
   * Kernel threads inside the worker, as VAE.create's `threads` (default 'auto'). In a page they
   * need cross-origin isolation (COOP/COEP); `trainer.threads` and `trainer.threadsNote` tell
   * what runs once `ready` resolves.
   */
  threads?: number | 'auto';
}

declare const __WASM_VAE_INLINE__: boolean;

let workerFactory: (() => WorkerLike) | null = null;

/** Replaces how WorkerTrainers start their worker (the single-file build and the Node entry use this). */
export function setWorkerFactory(factory: (() => WorkerLike) | null): void {
  workerFactory = factory;
}

function defaultWorker(): WorkerLike {
  if (workerFactory) return workerFactory();
  if (typeof __WASM_VAE_INLINE__ !== 'undefined') throw new WasmError('no worker factory is registered');
  if (typeof Worker !== 'function') {
    throw new WasmError(
      "this runtime has no Worker: in Node import 'wasm-vae' through its Node entry, or pass { worker } to WorkerTrainer",
    );
  }
  try {
    // the literal pattern bundlers recognise: keep it exactly so
    return new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }) as unknown as WorkerLike;
  } catch (e) {
    // a cross-origin script URL (the package served from a CDN): start a same-origin Blob module
    // worker that imports the real one (the CDN must send CORS headers, as it does for the page's
    // import). The URL is built from a variable so bundlers, which rewrote the literal above, leave
    // this alone; a bundler's build-time file: URL is not servable, so then the real error stands.
    const here: string = import.meta.url;
    if (typeof Blob !== 'function' || typeof URL.createObjectURL !== 'function' || !/^https?:/.test(here))
      throw e;
    const url = new URL('./worker.js', here).href;
    const blob = new Blob([`import ${JSON.stringify(url)};\n`], { type: 'text/javascript' });
    return new Worker(URL.createObjectURL(blob), { type: 'module' }) as unknown as WorkerLike;
  }
}

const WORKER_OPTIONS = {
  worker: optional<WorkerTrainerOptions['worker']>(any),
  transferData: field(bool, false),
  syncWeightsMs: optional(nonNegative),
  threads: field<number | 'auto'>((v, n) => (v === 'auto' ? 'auto' : posInt(v, n)), 'auto'),
};

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onBatchEnd?: FitOptions['onBatchEnd'];
  onEpochEnd?: FitOptions['onEpochEnd'];
  /** An error a callback threw: the fit is aborted and then rejects with it. */
  callbackError?: unknown;
  abort?(): void;
}

export class WorkerTrainer {
  readonly vae: VAE;
  readonly options: TrainerOptions;
  /** Resolves once the worker holds the model and its Trainer; rejects as `new Trainer` would throw (e.g. ConfigError). */
  readonly ready: Promise<void>;
  /** Epochs completed (continues across fit() calls). */
  epoch = 0;
  /** Kernel threads the worker trains on (known once `ready` resolves). */
  threads = 1;
  /** Why fewer threads than asked run in the worker ('' when as many as asked). */
  threadsNote = '';
  history: History = { epochs: [], stopReason: 'completed', bestEpoch: null, steps: 0 };
  private readonly worker: WorkerLike;
  private readonly wopts: { transferData: boolean; syncWeightsMs?: number };
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private fitting = false;
  private failed: Error | null = null;
  private readyState: Pending | null = null;
  /** The weights and RNG states this side sent (at init, pushWeights), until a checkpoint replaces them. */
  private sent: Snapshot;
  /** The worker trainer's last consistent state (null until the worker is ready). */
  private last: TrainerCheckpoint | null = null;

  constructor(vae: VAE, opts: TrainerOptions = {}, workerOpts: WorkerTrainerOptions = {}) {
    if (!(vae instanceof VAE)) throw new ConfigError('WorkerTrainer needs a VAE');
    if (!opts || typeof opts !== 'object') throw new ConfigError('Trainer options must be an object');
    const wo = parse(WORKER_OPTIONS, workerOpts, 'WorkerTrainer');
    this.vae = vae;
    this.options = opts;
    this.wopts = { transferData: wo.transferData, syncWeightsMs: wo.syncWeightsMs };
    const w = wo.worker;
    this.worker = typeof w === 'function' ? w() : (w ?? defaultWorker());
    this.worker.addEventListener('message', (e) => {
      try {
        this.onMessage(e.data as FromWorker);
      } catch (err) {
        // a message this side cannot use (malformed, or a snapshot that does not fit): stop trusting the worker
        this.worker.terminate();
        this.fail(
          err instanceof VaeError
            ? err
            : new WasmError(`the training worker sent a malformed message: ${(err as Error)?.message}`),
        );
      }
    });
    this.worker.addEventListener('error', (e) =>
      this.fail(
        new WasmError(
          `the training worker failed: ${e.message ?? 'its script could not be loaded (check that the worker file is served, with a JavaScript MIME type)'}`,
        ),
      ),
    );
    this.worker.addEventListener('messageerror', () =>
      this.fail(new WasmError('the training worker received a message it could not deserialize')),
    );
    this.ready = new Promise<void>((resolve, reject) => {
      this.readyState = { resolve: () => resolve(), reject };
    });
    this.ready.catch(() => {
      /* surfaced by fit() / create() */
    });
    this.worker.ref?.();
    const snapshot = takeSnapshot(vae);
    this.sent = { params: snapshot.params.slice(), rng: snapshot.rng.slice() };
    const init = (sharedModule: WebAssembly.Module | null) =>
      this.post(
        {
          type: 'init',
          module: vae.kernels.shared ? null : vae.kernels.module,
          sharedModule,
          build: vae.build,
          config: vae.config,
          chunkRows: vae.chunkRows,
          threads: wo.threads,
          snapshot,
          trainer: opts,
        },
        snapshotTransfer(snapshot),
      );
    // threads in the worker run the shared-memory build of the same kernels: compile it here (the
    // worker may not be able to fetch it), or let the worker train on one thread without it
    if (wo.threads === 1 || vae.kernels.shared) init(vae.kernels.shared ? vae.kernels.module : null);
    else
      compileKernels({ build: vae.build, shared: true }).then(
        (m) => init(m.module),
        () => init(null),
      );
  }

  /** Like the constructor, but resolves only once the worker is ready (and rejects on bad options). */
  static async create(
    vae: VAE,
    opts: TrainerOptions = {},
    workerOpts: WorkerTrainerOptions = {},
  ): Promise<WorkerTrainer> {
    const t = new WorkerTrainer(vae, opts, workerOpts);
    try {
      await t.ready;
    } catch (e) {
      t.terminate();
      throw e;
    }
    return t;
  }

  /** Which wasm build trains (the VAE's). */
  get build() {
    return this.vae.build;
  }

  private post(msg: ToWorker, transfer: Transferable[] = []): void {
    this.worker.postMessage(msg, transfer);
  }

  private idle(): void {
    if (this.pending.size === 0 && !this.readyState) this.worker.unref?.();
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.readyState?.reject(err);
    this.readyState = null;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.fitting = false;
    this.worker.unref?.();
  }

  private onMessage(msg: FromWorker): void {
    if (msg.type === 'ready') {
      this.threads = msg.threads;
      this.threadsNote = msg.threadsNote;
      if (msg.options && typeof msg.options === 'object')
        this.last = this.checkpointAt(msg.options, { state: [], step: 0, epoch: 0 }, this.sent, this.history);
      this.readyState?.resolve(undefined);
      this.readyState = null;
      this.idle();
      return;
    }
    if (msg.type === 'error' && msg.id === null) {
      this.fail(deserializeError(msg.error)); // rejects ready and every pending request (a fit would hang otherwise)
      this.worker.terminate(); // every later call rejects with err: the thread has nothing left to do
      return;
    }
    const msgId = msg.id as number;
    const p = this.pending.get(msgId);
    if (!p) return;
    const call = (fn: () => void | Promise<void>) => {
      if (p.callbackError !== undefined) return;
      const stop = (e: unknown) => {
        if (p.callbackError === undefined) {
          p.callbackError = e ?? new Error('callback failed');
          p.abort?.();
        }
      };
      try {
        const r = fn();
        if (r && typeof (r as Promise<void>).then === 'function') (r as Promise<void>).then(undefined, stop);
      } catch (e) {
        stop(e);
      }
    };
    switch (msg.type) {
      case 'batch':
        if (msg.snapshot) this.apply(msg.snapshot, msg.checkpoint, { ...this.history });
        if (msg.info && p.onBatchEnd) {
          const info: BatchInfo = msg.info,
            cb = p.onBatchEnd;
          call(() => cb(info));
        }
        return;
      case 'epoch':
        this.apply(msg.snapshot, msg.checkpoint, msg.history);
        this.epoch = msg.epoch;
        this.history = msg.history;
        if (p.onEpochEnd) {
          const rec: EpochRecord = msg.record,
            cb = p.onEpochEnd,
            h = this.history;
          call(() => cb(rec, h));
        }
        return;
      case 'done':
        this.apply(msg.snapshot, msg.checkpoint, msg.history);
        this.epoch = msg.epoch;
        this.history = msg.history;
        this.finish(msgId);
        if (p.callbackError !== undefined) p.reject(p.callbackError);
        else p.resolve(msg.history);
        return;
      case 'error':
        if (msg.snapshot) this.apply(msg.snapshot, msg.checkpoint, msg.history ?? this.history);
        if (msg.history) this.history = msg.history;
        if (msg.epoch !== undefined) this.epoch = msg.epoch;
        this.finish(msgId);
        p.reject(deserializeError(msg.error));
        return;
      case 'saved':
        this.finish(msgId);
        p.resolve(msg.bytes);
        return;
      case 'loaded':
        this.finish(msgId);
        p.resolve(undefined);
        return;
    }
  }

  /**
   * Copies weights from the worker into the VAE and, when they come with the optimizer state and
   * position (every snapshot the library's worker posts does), keeps all of it as the last
   * checkpoint. Both are checked first; a bad one throws (and the worker is dropped) with neither kept.
   */
  private apply(snapshot: Snapshot, part: CheckpointPart | undefined, history: History): void {
    const options = this.last?.options;
    const c =
      part !== undefined && options
        ? checkCheckpoint(this.vae, part, optimizerStateNames(options.optimizer.name).length)
        : null;
    applySnapshot(this.vae, snapshot);
    if (c && options) this.last = this.checkpointAt(options, c, snapshot, history);
  }

  private checkpointAt(
    options: ResolvedTrainerOptions,
    c: CheckpointPart,
    s: Snapshot,
    h: History,
  ): TrainerCheckpoint {
    // history: a copy with its own epochs array (a later message replaces this.history, never edits it)
    const history = { ...h, epochs: Array.isArray(h?.epochs) ? h.epochs.slice() : [], steps: c.step };
    return {
      params: s.params,
      rng: s.rng,
      state: c.state.length ? c.state : null,
      step: c.step,
      epoch: c.epoch,
      options,
      history,
    };
  }

  /** The optimizer step of the last checkpoint this side holds (what save() returns once the worker is gone); null before the worker is ready. */
  get checkpointStep(): number | null {
    return this.last?.step ?? null;
  }

  private finish(id: number): void {
    this.pending.delete(id);
    this.idle();
  }

  private request<T>(
    make: (id: number) => { msg: ToWorker; transfer?: Transferable[] },
    extra: Partial<Pending> = {},
  ): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, ...extra });
      this.worker.ref?.();
      const { msg, transfer } = make(id);
      this.post(msg, transfer);
    });
  }

  private dataMessage(x: Input, what: string, transfer: Transferable[]): DataMessage {
    const m = this.vae.matrix(x, this.vae.config.inputDim, what);
    // the main-thread model records what fit did to its data, as Trainer.fit does
    if (what === 'training data') this.vae.trainedOn = describeInput(x, m);
    const buf = m.data.buffer;
    const whole =
      buf instanceof ArrayBuffer && m.data.byteOffset === 0 && m.data.byteLength === buf.byteLength;
    if (this.wopts.transferData && whole) transfer.push(buf);
    return { data: m.data, rows: m.rows, cols: m.cols };
  }

  /**
   * Trains for `epochs` more epochs in the worker: Trainer.fit's options and callbacks. Resolves
   * with the history (also on early stopping or abort); the main-thread VAE then holds the weights.
   * Callbacks run on the main thread as progress arrives; the worker does not wait for them.
   */
  async fit(x: Input, opts: FitOptions): Promise<History> {
    parseFitOptions(opts);
    if (this.fitting)
      throw new ConfigError('this WorkerTrainer is already fitting; await the running fit() first');
    this.fitting = true;
    try {
      await this.ready;
    } catch (e) {
      this.fitting = false;
      throw e;
    }
    let transfer: Transferable[] = [];
    let train: DataMessage, val: DataMessage | null;
    let cond: DataMessage | null = null,
      valCond: DataMessage | null = null;
    try {
      train = this.dataMessage(x, 'training data', transfer);
      val =
        opts.validationData !== undefined
          ? this.dataMessage(opts.validationData, 'validation data', transfer)
          : null;
      if (val && transfer.length === 2 && transfer[0] === transfer[1]) transfer = [transfer[0]];
      // a conditional model's conditions, checked here as Trainer.fit checks them (copied, not transferred)
      const c = this.vae.conditionMatrix(opts.condition, train.rows, 'fit', true);
      if (c) cond = { data: c.data, rows: c.rows, cols: c.cols };
      if (!val && opts.validationCondition !== undefined)
        throw new ConfigError('validationCondition needs validationData');
      const vc = val
        ? this.vae.conditionMatrix(opts.validationCondition, val.rows, 'fit (validation)', true)
        : null;
      if (vc) valCond = { data: vc.data, rows: vc.rows, cols: vc.cols };
    } catch (e) {
      this.fitting = false;
      throw e;
    }
    const signal = opts.signal;
    let id = 0;
    const abort = () => {
      if (id) this.post({ type: 'abort', id });
    };
    signal?.addEventListener('abort', abort);
    try {
      return await this.request<History>(
        (i) => {
          id = i;
          return {
            msg: {
              type: 'fit',
              id: i,
              train,
              val,
              cond,
              valCond,
              epochs: opts.epochs,
              validationSamples: opts.validationSamples,
              klPerDim: opts.klPerDim,
              batchEvents: typeof opts.onBatchEnd === 'function',
              syncMs: this.wopts.syncWeightsMs ?? null,
              aborted: signal?.aborted ?? false,
            },
            transfer,
          };
        },
        { onBatchEnd: opts.onBatchEnd, onEpochEnd: opts.onEpochEnd, abort },
      );
    } finally {
      signal?.removeEventListener('abort', abort);
      this.fitting = false;
    }
  }

  /**
   * The trainer's full state (model, optimizer, step, RNG) in Trainer.save()'s format: resume it
   * with Trainer.resume. While the worker runs it answers (after a running fit); once the worker is
   * gone — it died, or terminate() was called — this is the last checkpoint it posted (the weights
   * the VAE received with it, see checkpointStep), so training can continue exactly from there.
   */
  async save(): Promise<Uint8Array> {
    if (!this.failed) {
      try {
        await this.ready;
        return await this.request<Uint8Array>((id) => ({ msg: { type: 'save', id } }));
      } catch (e) {
        if (!this.failed || !this.last) throw e; // an answer from a live worker (or no checkpoint)
      }
    }
    if (!this.last) throw this.failed;
    return encodeTrainerFile(this.vae, this.last);
  }

  /** Sends the main-thread VAE's current weights (and RNG states) to the worker, e.g. after editing them. */
  pushWeights(): Promise<void> {
    let copy: Snapshot | null = null;
    return this.ready
      .then(() =>
        this.request<void>((id) => {
          const snapshot = takeSnapshot(this.vae);
          copy = { params: snapshot.params.slice(), rng: snapshot.rng.slice() };
          return { msg: { type: 'load', id, snapshot }, transfer: snapshotTransfer(snapshot) };
        }),
      )
      .then(() => {
        if (this.last && copy) this.last = { ...this.last, ...copy };
      });
  }

  /** Stops the worker at once; a running fit rejects (the main-thread VAE keeps the last weights it received). */
  terminate(): void {
    this.worker.terminate();
    this.fail(new ConfigError('the WorkerTrainer was terminated'));
  }
}
