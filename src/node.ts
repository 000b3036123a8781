/**
 * The Node entry point: everything in the universal entry plus file helpers — IDX/MNIST loaders
 * and atomic model save/load by path (temp file + rename, so a crash never leaves half a file).
 */
import './wasm-node.js'; // reads build/*.wasm from disk (the universal loader never imports node:)
import './worker/node.js'; // WorkerTrainer on worker_threads
export * from './index.js';
export { loadIdxFile, loadIdxFile as loadIdx, loadMnist, loadFashionMnist } from './data/node.js';
export { writeFileAtomic, readFileBytes } from './io/node.js';
import { writeFileAtomic, readFileBytes } from './io/node.js';
import { VAE } from './vae.js';
import { Trainer } from './trainer.js';

/** Saves a model (or a trainer with its state, for resuming) to a path atomically. */
export async function saveModel(path: string, what: VAE | Trainer): Promise<void> {
  await writeFileAtomic(path, what.save());
}

/** Loads a model written by saveModel / VAE.save. */
export async function loadModel(path: string, opts?: Parameters<typeof VAE.load>[1]): Promise<VAE> {
  return VAE.load(await readFileBytes(path), opts);
}

/** Loads a trainer (model + optimizer + RNG state) written by saveModel(path, trainer). */
export async function resumeTrainer(
  path: string,
  opts?: Parameters<typeof Trainer.resume>[1],
): Promise<Trainer> {
  return Trainer.resume(await readFileBytes(path), opts);
}
