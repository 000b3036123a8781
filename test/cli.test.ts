// The built CLI (dist/cli/main.js; npm test's pretest builds it) end to end on a small MNIST
// subset: the files it writes, and its answers to --help and bad options.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { decode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/node.js';
import { imageGrid } from '../src/cli/png.js';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '../dist/cli/main.js');

/** Runs the CLI; resolves with its exit code and output (never rejects on a non-zero exit). */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', CLI, ...args],
      { timeout: 90_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function variance(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m += a[i] / a.length;
  let v = 0;
  for (let i = 0; i < a.length; i++) v += (a[i] - m) ** 2 / a.length;
  return v;
}

describe('imageGrid', () => {
  it('tiles images with 2 px padding, clamps and rounds', () => {
    const imgs = new Float32Array([0, 1, 0.5, 2, -1, NaN, 1, 0.2]); // 2 images of 2×2
    const g = imageGrid(imgs, 2, 2, 2, 1);
    expect([g.width, g.height]).toEqual([6, 10]);
    expect(g.data.length).toBe(60);
    const at = (x: number, y: number) => g.data[y * g.width + x];
    expect([at(2, 2), at(3, 2), at(2, 3), at(3, 3)]).toEqual([0, 255, 128, 255]);
    expect([at(2, 6), at(3, 6), at(2, 7), at(3, 7)]).toEqual([0, 0, 255, 51]);
    expect(at(0, 0) + at(5, 9) + at(2, 4) + at(2, 5)).toBe(0); // padding
    expect(() => imageGrid(imgs, 3, 2, 2, 1)).toThrow(/need 12 values/);
  });
});

describe.skipIf(!existsSync(CLI))('CLI (dist/cli/main.js)', () => {
  let dir: string;
  let result: { code: number; stdout: string; stderr: string };
  const EPOCHS = 2;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wasm-vae-cli-'));
    result = await cli([
      '--epochs',
      String(EPOCHS),
      '--train-rows',
      '2000',
      '--test-rows',
      '500',
      '--latent',
      '8',
      '--hidden',
      '200',
      '--seed',
      '3',
      '--out',
      dir,
    ]);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exits 0, prints one line per epoch (no TTY) and writes the four files', async () => {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n').filter((l) => /^epoch +\d+\/2 /.test(l))).toHaveLength(EPOCHS);
    expect((await readdir(dir)).sort()).toEqual([
      'model.safetensors',
      'reconstructions.png',
      'samples.png',
      'summary.json',
    ]);
  });

  it('writes a model that loadModel reads with the configured shapes', async () => {
    const vae = await loadModel(join(dir, 'model.safetensors'));
    expect(vae.config).toMatchObject({
      inputDim: 784,
      encoder: [200],
      decoder: [200],
      latentDim: 8,
      activation: 'relu',
      likelihood: 'bernoulli',
      seed: 3,
    });
    const shapes = Object.fromEntries([...vae.stateDict()].map(([k, t]) => [k, t.shape]));
    expect(Object.values(shapes)).toContainEqual([200, 784]);
    expect(Object.values(shapes)).toContainEqual([784, 200]);
    expect(Object.values(shapes).filter((s) => s.length === 2 && s[0] === 8 && s[1] === 200)).toHaveLength(2); // mu and logvar heads
    expect(vae.parameterCount).toBe(784 * 200 + 200 + 2 * (200 * 8 + 8) + 8 * 200 + 200 + 200 * 784 + 784);
  });

  it('writes PNGs of the expected size that are not blank', async () => {
    const rec = decode(await readFile(join(dir, 'reconstructions.png')));
    expect([rec.width, rec.height, rec.channels, rec.depth]).toEqual([8 * 30 + 2, 2 * 30 + 2, 1, 8]);
    expect(variance(rec.data)).toBeGreaterThan(0);
    const smp = decode(await readFile(join(dir, 'samples.png')));
    expect([smp.width, smp.height, smp.channels, smp.depth]).toEqual([8 * 30 + 2, 8 * 30 + 2, 1, 8]);
    expect(variance(smp.data)).toBeGreaterThan(0);
    // the reconstructions row is not just a copy of the originals row
    const row = (r: number) =>
      Array.from({ length: 28 }, (_, y) =>
        Array.from(rec.data.subarray((2 + r * 30 + y) * rec.width, (2 + r * 30 + y + 1) * rec.width)),
      ).flat();
    expect(row(0)).not.toEqual(row(1));
  });

  it('writes a summary with one record per epoch and finite losses', async () => {
    const s = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8'));
    expect(s.config).toMatchObject({
      data: 'mnist',
      trainRows: 2000,
      testRows: 500,
      latent: 8,
      hidden: [200],
      batchSize: 128,
      epochs: EPOCHS,
      seed: 3,
      optimizer: { name: 'adam', lr: 1e-3 },
    });
    expect(['relaxed', 'simd', 'scalar']).toContain(s.build);
    expect(s.stopReason).toBe('completed');
    expect(s.epochs.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2]);
    for (const e of s.epochs) {
      for (const part of [e.train, e.test]) {
        for (const k of ['loss', 'reconstruction', 'kl']) expect(Number.isFinite(part[k])).toBe(true);
        expect(part.loss).toBeCloseTo(part.reconstruction + part.kl, 3);
        expect(part.loss).toBeGreaterThan(50);
      }
      expect(e.samplesPerSec).toBeGreaterThan(0);
    }
    expect(s.epochs[1].test.loss).toBeLessThan(s.epochs[0].test.loss);
    expect(s.samplesPerSec).toBeGreaterThan(0);
    expect(s.wallSeconds).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(s.date))).toBe(false);
    expect(s.machine.cores).toBeGreaterThan(0);
    expect(s.machine.node).toBe(process.version);
    expect(typeof s.machine.cpu).toBe('string');
  });

  it('prints usage for --help and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: /);
    expect(r.stdout).toContain('--epochs');
  });

  it.each([
    [['--epochs', '0'], /--epochs must be an integer/],
    [['--lr', 'fast'], /--lr must be a positive number/],
    [['--data', 'cifar'], /--data must be mnist or fashion/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--train-rows', '70000', '--epochs', '1'], /--train-rows 70000 is more than the 60000/],
  ])('rejects %j with a clear message and exit code 1', async (args, message) => {
    const r = await cli([...args, '--out', join(dir, 'unused')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // a message, not a stack trace
    expect(existsSync(join(dir, 'unused', 'model.safetensors'))).toBe(false);
  });
});
