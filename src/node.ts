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
import { DataError, FormatError } from './errors.js';

/**
 * Reads a model file and parses it, as loadIdxFile does for IDX files: a missing or unreadable
 * file → `DataError` naming the path; a malformed one → `FormatError` prefixed with the path.
 */
async function fromPath<T>(path: string, parse: (bytes: Uint8Array) => Promise<T>): Promise<T> {
  let bytes: Uint8Array;
  try {
    bytes = await readFileBytes(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(
      code === 'ENOENT'
        ? `model file not found: ${path}`
        : `cannot read model file ${path}: ${(err as Error).message}`,
    );
  }
  try {
    return await parse(bytes);
  } catch (err) {
    if (err instanceof FormatError) throw new FormatError(`${path}: ${err.message}`);
    throw err;
  }
}

/** Saves a model (or a trainer with its state, for resuming) to a path atomically. */
export async function saveModel(path: string, what: VAE | Trainer): Promise<void> {
  await writeFileAtomic(path, what.save());
}

/** Loads a model written by saveModel / VAE.save (a missing file is a DataError naming the path). */
export async function loadModel(path: string, opts?: Parameters<typeof VAE.load>[1]): Promise<VAE> {
  return fromPath(path, (bytes) => VAE.load(bytes, opts));
}

/** Loads a trainer (model + optimizer + RNG state) written by saveModel(path, trainer). */
export async function resumeTrainer(
  path: string,
  opts?: Parameters<typeof Trainer.resume>[1],
): Promise<Trainer> {
  return fromPath(path, (bytes) => Trainer.resume(bytes, opts));
}
