/**
 * Node's WorkerTrainer backend: worker_threads behind the small Worker-like interface the trainer
 * uses. Registered by the Node entry (src/node.ts). The thread is unref'd while idle, so a
 * forgotten WorkerTrainer never keeps a program alive.
 */
import { Worker } from 'node:worker_threads';
import { setWorkerFactory, type WorkerLike } from './trainer.js';

export function nodeWorker(): WorkerLike {
  const w = new Worker(new URL('./node-entry.js', import.meta.url));
  return {
    postMessage: (msg, transfer) => w.postMessage(msg, (transfer ?? []) as never[]),
    addEventListener(type, fn) {
      if (type === 'message') w.on('message', (data) => fn({ data }));
      else if (type === 'messageerror')
        w.on('messageerror', (err) => fn({ data: null, message: (err as Error).message }));
      else w.on('error', (err) => fn({ data: null, message: (err as Error).message }));
    },
    terminate: () => {
      void w.terminate();
    },
    ref: () => w.ref(),
    unref: () => w.unref(),
  };
}

setWorkerFactory(nodeWorker);
