/**
 * Node's WorkerTrainer backend: worker_threads behind the small Worker-like interface the trainer
 * uses. Registered by the Node entry (src/node.ts). The thread is unref'd while idle, so a
 * forgotten WorkerTrainer never keeps a program alive.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { setWorkerFactory, type WorkerLike } from './trainer.js';
import { setThreadSpawner, setHardwareThreads, type SpawnedThread } from '../threads.js';
import { WasmError } from '../errors.js';

export function nodeWorker(): WorkerLike {
  const w = new Worker(new URL('./node-entry.js', import.meta.url));
  return {
    postMessage: (msg, transfer) => w.postMessage(msg, (transfer ?? []) as never[]),
    addEventListener(type, fn) {
      if (type === 'message') w.on('message', (data) => fn({ data }));
      else if (type === 'messageerror')
        w.on('messageerror', (err) => fn({ data: null, message: (err as Error).message }));
      else {
        w.on('error', (err) => fn({ data: null, message: (err as Error).message }));
        // a thread that ends without an 'error' (killed, or process.exit() in it) must fail the
        // pending calls too, or a running fit() never settles (after terminate() this is a no-op)
        w.on('exit', (code) => fn({ data: null, message: `its thread exited (code ${code})` }));
      }
    },
    terminate: () => {
      void w.terminate();
    },
    ref: () => w.ref(),
    unref: () => w.unref(),
  };
}

setWorkerFactory(nodeWorker);

/** Kernel threads on worker_threads: the pool's self-contained worker program, evaluated. */
function nodeThread(source: string): SpawnedThread {
  const worker = new Worker(source, { eval: true });
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('message', (m: { type?: string; message?: string }) =>
      m?.type === 'ready'
        ? resolve()
        : reject(new WasmError(`a kernel thread failed to start: ${m?.message ?? 'unknown error'}`)),
    );
    worker.once('error', (e) => reject(new WasmError(`a kernel thread failed to start: ${e.message}`)));
  });
  return { worker, ready };
}

setThreadSpawner(nodeThread);
setHardwareThreads(availableParallelism());
