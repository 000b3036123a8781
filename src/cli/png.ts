/**
 * Image grids for the CLI: tiles row-major images with values in [0, 1] into one 8-bit grayscale
 * picture (like torchvision's make_grid: `pad` px of black around and between tiles) and writes it
 * as a PNG (encoded by the npm package fast-png; written atomically).
 */
import { encode } from 'fast-png';
import { writeFileAtomic } from '../io/node.js';
import { ShapeError } from '../errors.js';

export interface GrayImage {
  /** Row-major 8-bit gray pixels, width × height. */
  data: Uint8Array;
  width: number;
  height: number;
}

const isPosInt = (n: number) => Number.isSafeInteger(n) && n > 0;

/**
 * Tiles the first `count` images (each height × width floats in [0, 1], row-major, one after the
 * other) into a grid with `cols` tiles per row and `pad` pixels of padding (default 2). Values are
 * clamped to [0, 1]; the last grid row is left black where it has fewer than `cols` tiles.
 */
export function imageGrid(
  images: Float32Array,
  count: number,
  height: number,
  width: number,
  cols: number,
  pad = 2,
): GrayImage {
  for (const [name, v] of [
    ['count', count],
    ['height', height],
    ['width', width],
    ['cols', cols],
  ] as const) {
    if (!isPosInt(v)) throw new ShapeError(`imageGrid: ${name} must be a positive integer, got ${v}`);
  }
  if (!(Number.isSafeInteger(pad) && pad >= 0))
    throw new ShapeError(`imageGrid: pad must be a non-negative integer, got ${pad}`);
  const px = height * width;
  if (images.length < count * px) {
    throw new ShapeError(
      `imageGrid: ${count} images of ${height}×${width} need ${count * px} values, got ${images.length}`,
    );
  }
  const c = Math.min(cols, count),
    rows = Math.ceil(count / c);
  const W = c * (width + pad) + pad,
    H = rows * (height + pad) + pad;
  const data = new Uint8Array(W * H);
  for (let i = 0; i < count; i++) {
    const x0 = pad + (i % c) * (width + pad),
      y0 = pad + Math.floor(i / c) * (height + pad);
    for (let y = 0; y < height; y++) {
      const src = i * px + y * width,
        dst = (y0 + y) * W + x0;
      for (let x = 0; x < width; x++) {
        const v = images[src + x];
        // NaN → 0; clamp, then round to the nearest of 256 levels
        data[dst + x] = v > 0 ? (v >= 1 ? 255 : Math.round(v * 255)) : 0;
      }
    }
  }
  return { data, width: W, height: H };
}

/** Encodes a grayscale image as an 8-bit PNG. */
export function encodeGrayPng(grid: GrayImage): Uint8Array {
  if (grid.data.length !== grid.width * grid.height) {
    throw new ShapeError(
      `PNG: ${grid.width}×${grid.height} image needs ${grid.width * grid.height} pixels, got ${grid.data.length}`,
    );
  }
  return encode({ width: grid.width, height: grid.height, data: grid.data, channels: 1, depth: 8 });
}

/** Writes a grayscale image to `path` as a PNG, atomically (temp file + rename). */
export async function writePng(path: string, grid: GrayImage): Promise<void> {
  await writeFileAtomic(path, encodeGrayPng(grid));
}

/** Scales an image up by an integer factor, nearest-neighbour (each pixel becomes k × k). */
export function scaleUp(img: GrayImage, k: number): GrayImage {
  if (!isPosInt(k)) throw new ShapeError(`scaleUp: factor must be a positive integer, got ${k}`);
  const W = img.width * k,
    out = new Uint8Array(W * img.height * k);
  for (let y = 0; y < img.height * k; y++) {
    const src = Math.floor(y / k) * img.width;
    for (let x = 0; x < W; x++) out[y * W + x] = img.data[src + Math.floor(x / k)];
  }
  return { data: out, width: W, height: img.height * k };
}
