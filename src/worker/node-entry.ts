/**
 * Entry of the training worker under Node's worker_threads (started by src/worker/node.ts):
 * registers the Node file reader and serves the worker protocol on parentPort.
 */
import { parentPort } from 'node:worker_threads';
import '../wasm-node.js';
import './node.js'; // kernel threads on worker_threads inside this worker too
import { serve } from './worker.js';

if (!parentPort) throw new Error('wasm-vae: node-entry.js must run in a worker thread');
const port = parentPort;
serve({
  post: (msg, transfer) => port.postMessage(msg, (transfer ?? []) as never[]),
  listen: (fn) => port.on('message', fn),
});
