/**
 * The training worker: holds a copy of the main thread's VAE (same build, same weights, same RNG
 * states) and a Trainer, and runs Trainer.fit on request, posting progress (and, when asked,
 * weight snapshots) back. Started by WorkerTrainer: as a module worker from this file's URL in the
 * normal build, from a Blob URL in the single-file build, or through worker_threads in Node
 * (src/worker/node-entry.ts).
 */
import { VAE } from '../vae.js';
import { Trainer } from '../trainer.js';
import { init, type WasmSourceMap } from '../wasm.js';
import {
  takeSnapshot,
  applySnapshot,
  snapshotTransfer,
  serializeError,
  type ToWorker,
  type FromWorker,
  type DataMessage,
} from './protocol.js';

/** The messages that carry the trainer's state, without it (post() adds it). */
type AtSafePoint =
  Extract<FromWorker, { type: 'batch' | 'epoch' | 'done' | 'error' }> extends infer M
    ? M extends unknown
      ? Omit<M, 'snapshot' | 'checkpoint'>
      : never
    : never;

export interface Port {
  post(msg: FromWorker, transfer?: Transferable[]): void;
  listen(fn: (msg: ToWorker) => void): void;
}

/** Trainer.fit yields with setImmediate where it exists; in browsers give it one that is not clamped to 4 ms like setTimeout. */
function installSetImmediate(): void {
  const g = globalThis as { setImmediate?: (fn: () => void) => void };
  if (typeof g.setImmediate === 'function' || typeof MessageChannel !== 'function') return;
  const ch = new MessageChannel(),
    queue: (() => void)[] = [];
  ch.port1.onmessage = () => {
    queue.shift()?.();
  };
  g.setImmediate = (fn) => {
    queue.push(fn);
    ch.port2.postMessage(0);
  };
}

export function serve(port: Port): void {
  installSetImmediate();
  let vae: VAE | null = null,
    trainer: Trainer | null = null;
  let running: { id: number; ctrl: AbortController } | null = null;
  const queue: ToWorker[] = [];
  let busy = false;

  const send = (msg: FromWorker, snap?: { params: Float32Array; rng: Uint32Array }) =>
    port.post(msg, snap ? snapshotTransfer(snap) : []);
  /** The trainer's state at a safe point (between steps), posted with a message that carries weights. */
  const post = (t: Trainer, msg: AtSafePoint) => {
    const c = t.checkpoint(),
      snapshot = { params: c.params, rng: c.rng },
      state = c.state ?? [];
    port.post({ ...msg, snapshot, checkpoint: { state, step: c.step, epoch: c.epoch } } as FromWorker, [
      ...snapshotTransfer(snapshot),
      ...state.map((a) => a.buffer as ArrayBuffer),
    ]);
  };
  const matrix = (d: DataMessage) => ({ data: d.data, rows: d.rows, cols: d.cols });

  async function handle(msg: ToWorker): Promise<void> {
    switch (msg.type) {
      case 'init': {
        try {
          // the kernels the page posted (a map: a build left out loads from its default place)
          const b = msg.build,
            given: WasmSourceMap = {};
          if (msg.module) given[b] = msg.module;
          if (msg.sharedModule) given[`${b}-shared`] = msg.sharedModule;
          await init({ source: msg.module || msg.sharedModule ? given : undefined, build: b });
          vae = await VAE.create({
            ...msg.config,
            build: msg.build,
            chunkRows: msg.chunkRows,
            threads: msg.threads,
          });
          applySnapshot(vae, msg.snapshot);
          trainer = new Trainer(vae, msg.trainer);
          send({
            type: 'ready',
            build: vae.build,
            threads: vae.threads,
            threadsNote: vae.threadsNote,
            options: trainer.options,
          });
        } catch (e) {
          send({ type: 'error', id: null, error: serializeError(e) });
        }
        return;
      }
      case 'fit': {
        const ctrl = new AbortController();
        if (msg.aborted) ctrl.abort();
        running = { id: msg.id, ctrl };
        const t = trainer!,
          id = msg.id;
        let lastSync = performance.now();
        try {
          const history = await t.fit(matrix(msg.train), {
            epochs: msg.epochs,
            ...(msg.val ? { validationData: matrix(msg.val) } : {}),
            ...(msg.validationSamples !== undefined ? { validationSamples: msg.validationSamples } : {}),
            ...(msg.klPerDim ? { klPerDim: true } : {}),
            ...(msg.cond ? { condition: matrix(msg.cond) } : {}),
            ...(msg.valCond ? { validationCondition: matrix(msg.valCond) } : {}),
            signal: ctrl.signal,
            onBatchEnd: (info) => {
              const due = msg.syncMs !== null && performance.now() - lastSync >= msg.syncMs;
              if (!due && !msg.batchEvents) return;
              if (due) {
                lastSync = performance.now();
                const m = { type: 'batch', id, info: msg.batchEvents ? info : null } as const;
                // an epoch's last batch: its weights, but the checkpoint comes with the epoch's end,
                // right after — one taken before the epoch-end work (validation draws, the epoch
                // count) would not resume as the run goes on
                if (info.batch < info.batches) post(t, m);
                else {
                  const snapshot = takeSnapshot(vae!);
                  send({ ...m, snapshot }, snapshot);
                }
              } else {
                send({ type: 'batch', id, info });
              }
            },
            onEpochEnd: (record, history) => {
              lastSync = performance.now();
              post(t, { type: 'epoch', id, record, history, epoch: t.epoch });
            },
          });
          post(t, { type: 'done', id, history, epoch: t.epoch });
        } catch (e) {
          post(t, { type: 'error', id, error: serializeError(e), history: t.history, epoch: t.epoch });
        } finally {
          running = null;
        }
        return;
      }
      case 'save': {
        try {
          const bytes = trainer!.save();
          port.post({ type: 'saved', id: msg.id, bytes }, [bytes.buffer as ArrayBuffer]);
        } catch (e) {
          send({ type: 'error', id: msg.id, error: serializeError(e) });
        }
        return;
      }
      case 'load': {
        try {
          applySnapshot(vae!, msg.snapshot);
          send({ type: 'loaded', id: msg.id });
        } catch (e) {
          send({ type: 'error', id: msg.id, error: serializeError(e) });
        }
        return;
      }
    }
  }

  async function pump(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      while (queue.length) await handle(queue.shift()!);
    } finally {
      busy = false;
    }
  }

  port.listen((msg) => {
    // abort must act while a fit runs (the fit yields to the event loop between batches)
    if (msg.type === 'abort') {
      if (running?.id === msg.id) running.ctrl.abort();
      return;
    }
    queue.push(msg);
    void pump();
  });
}

// A web worker (module or classic): serve on its global scope.
declare const WorkerGlobalScope: { new (): unknown } | undefined;
if (
  typeof WorkerGlobalScope !== 'undefined' &&
  typeof self === 'object' &&
  self instanceof WorkerGlobalScope
) {
  const scope = self as unknown as {
    postMessage(m: unknown, t?: Transferable[]): void;
    addEventListener(t: 'message', fn: (e: MessageEvent) => void): void;
  };
  serve({
    post: (msg, transfer) => scope.postMessage(msg, transfer ?? []),
    listen: (fn) => scope.addEventListener('message', (e) => fn(e.data as ToWorker)),
  });
}
