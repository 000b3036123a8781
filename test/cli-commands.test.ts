// The CLI's subcommands (dist/cli/main.js, built by pretest) on small data: train on a CSV and on a
// folder of PNGs (files, plots, the model), eval / sample / reconstruct / encode against the same
// calls made here on the saved model, and the errors a user meets first (--out a file, a ragged
// CSV, mixed image sizes, --epochs -1), all before any training.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { decode, encode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VAE, loadMnist, loadModel, parseCsv, saveModel } from '../src/node.js';
import { commandUsage, COMMAND_NAMES, normalQuantile, parseCommand } from '../src/cli/commands.js';
import { parseCli } from '../src/cli/main.js';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '../dist/cli/main.js');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', CLI, ...args],
      {
        timeout: 100_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const dir = mkdtempSync(join(tmpdir(), 'wasm-vae-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** N images of 8×8: a bright square whose position depends on the class (i % 4). */
function images(n: number): Float32Array {
  const x = new Float32Array(n * 64);
  for (let i = 0; i < n; i++) {
    const ox = (i % 2) * 4,
      oy = ((i >> 1) % 2) * 4;
    for (let y = 0; y < 4; y++)
      for (let c = 0; c < 4; c++) x[i * 64 + (oy + y) * 8 + ox + c] = 0.2 + ((i * 7) % 5) / 6.25;
  }
  return x;
}

describe('parsing', () => {
  it('every command has --help listing its options; a negative value reaches the range check', () => {
    for (const c of COMMAND_NAMES) {
      expect(commandUsage(c)).toMatch(new RegExp(`^Usage: wasm-vae ${c} \\[options\\]`));
      expect(commandUsage(c)).toContain('--threads X');
    }
    for (const o of [
      '--likelihood',
      '--activation',
      '--beta',
      '--kl-warmup',
      '--free-bits',
      '--samples',
      '--objective',
      '--binarize',
      '--optimizer',
      '--lr',
      '--validation-split',
      '--early-stopping',
      '--resume',
      '--threads',
    ])
      expect(commandUsage('train')).toContain(o);
    expect(parseCommand('train', ['--epochs', '-1']).epochs).toBe('-1');
    // and in the zero-argument MNIST run's options
    expect(() => parseCli(['--epochs', '-1'])).toThrow(/^--epochs must be an integer ≥ 1, got "-1"$/);
    expect(() => parseCli(['--lr', '-0.5'])).toThrow(/^--lr must be a positive number, got "-0.5"$/);
    expect(() => parseCommand('train', ['--epoch', '3'])).toThrow(/Unknown option '--epoch'/);
  });

  it('normalQuantile matches known quantiles', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963985, 8);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326347874, 8);
  });
});

describe.skipIf(!existsSync(CLI))('wasm-vae <command> (dist/cli/main.js)', () => {
  const csvFile = join(dir, 'data.csv');
  const pngDir = join(dir, 'pngs');
  const X = images(200);
  const XR = Float32Array.from(X, (v) => Math.round(v * 255) / 255); // what the PNG files hold

  beforeAll(() => {
    // a CSV with a header, values outside [0, 1] (a Gaussian model)
    const rows = ['a,b,c,d,e,f'];
    for (let i = 0; i < 300; i++)
      rows.push(Array.from({ length: 6 }, (_, j) => (Math.sin(i * 0.37 + j) * 3 + j).toFixed(4)).join(','));
    writeFileSync(csvFile, rows.join('\n') + '\n');
    mkdirSync(pngDir);
    for (let i = 0; i < 200; i++) {
      const data = Uint8Array.from(X.subarray(i * 64, (i + 1) * 64), (v) => Math.round(v * 255));
      writeFileSync(
        join(pngDir, `img${String(i).padStart(3, '0')}.png`),
        encode({ width: 8, height: 8, data, channels: 1, depth: 8 }),
      );
    }
  });

  it('train on a CSV: a Gaussian model, loss curves, the model and trainer files; --resume continues', async () => {
    const out = join(dir, 'csv-out');
    const r = await cli([
      'train',
      '--data',
      csvFile,
      '--epochs',
      '3',
      '--batch-size',
      '32',
      '--hidden',
      '16',
      '--latent',
      '3',
      '--out',
      out,
      '--threads',
      '1',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /6-16-3 VAE \(gaussian, relu\) on data\.csv: 270 training rows, 30 validation rows/,
    );
    expect(r.stdout.match(/^epoch \d+:/gm)).toHaveLength(3);
    for (const f of ['model.safetensors', 'trainer.safetensors', 'loss.svg', 'loss.png', 'history.json'])
      expect(existsSync(join(out, f)), f).toBe(true);
    expect(existsSync(join(out, 'samples.png'))).toBe(false); // rows, not images
    expect(readFileSync(join(out, 'loss.svg'), 'utf8')).toMatch(/^<svg[^>]*>.*validation/s);
    const png = decode(readFileSync(join(out, 'loss.png')));
    expect(png.width).toBeGreaterThan(600);
    const h = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'));
    expect(h.history.epochs).toHaveLength(3);
    const vae = await loadModel(join(out, 'model.safetensors'), { threads: 1 });
    expect(vae.config).toMatchObject({ inputDim: 6, encoder: [16], latentDim: 3, likelihood: 'gaussian' });
    const r2 = await cli([
      'train',
      '--data',
      csvFile,
      '--epochs',
      '1',
      '--batch-size',
      '32',
      '--resume',
      join(out, 'trainer.safetensors'),
      '--out',
      join(dir, 'csv-resumed'),
      '--threads',
      '1',
    ]);
    expect(r2.code).toBe(0);
    expect(r2.stdout).toMatch(/^epoch 4:/m);
  });

  it('train on a folder of PNGs with a 2-D latent space: labelled grids, the manifold and a latent scatter', async () => {
    const out = join(dir, 'png-out');
    const r = await cli([
      'train',
      '--data',
      pngDir,
      '--epochs',
      '2',
      '--batch-size',
      '20',
      '--hidden',
      '32',
      '--latent',
      '2',
      '--out',
      out,
      '--threads',
      '1',
      '--kl-warmup',
      '1',
      '--early-stopping',
      '5',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /64-32-2 VAE \(bernoulli, relu\) on pngs: 180 training rows, 20 validation rows/,
    );
    for (const f of ['reconstructions.png', 'samples.png', 'manifold.png', 'latent.png']) {
      const p = decode(readFileSync(join(out, f)));
      expect(p.width, f).toBeGreaterThan(200);
    }
  });

  it('eval, sample, reconstruct and encode give the numbers of the same calls on the saved model', async () => {
    const model = join(dir, 'png-out', 'model.safetensors');
    const vae = await loadModel(model, { threads: 1 });
    const ev = await cli(['eval', '--model', model, '--data', pngDir, '--seed', '4', '--json', '--k', '50']);
    expect(ev.code).toBe(0);
    const got = JSON.parse(ev.stdout);
    const want = vae.evaluate(XR, { seed: 4 });
    expect(got.loss).toBe(want.loss);
    expect(got.kl).toBe(want.kl);
    expect(got.rows).toBe(200);
    expect(got.logLikelihood).toBeGreaterThan(got.elbo - 1); // L_50 ≥ the ELBO, up to sampling noise
    const sampleCsv = join(dir, 'samples.csv');
    expect(
      (await cli(['sample', '--model', model, '--n', '5', '--seed', '9', '--out', sampleCsv])).code,
    ).toBe(0);
    const s = parseCsv(readFileSync(sampleCsv, 'utf8'));
    expect(s.rows).toBe(5);
    const ref = vae.sample(5, { seed: 9 });
    for (let i = 0; i < ref.length; i++) expect(s.data[i]).toBeCloseTo(ref[i], 6);
    const grid = join(dir, 'samples.svg');
    expect((await cli(['sample', '--model', model, '--n', '9', '--out', grid])).code).toBe(0);
    expect(readFileSync(grid, 'utf8')).toMatch(/^<svg.*9 samples/s);
    const rec = join(dir, 'rec.png');
    expect(
      (await cli(['reconstruct', '--model', model, '--data', pngDir, '--n', '6', '--out', rec])).code,
    ).toBe(0);
    expect(decode(readFileSync(rec)).width).toBeGreaterThan(300);
    const lat = join(dir, 'lat.csv'),
      plot = join(dir, 'lat.png');
    const e = await cli([
      'encode',
      '--model',
      model,
      '--data',
      pngDir,
      '--rows',
      '50',
      '--out',
      lat,
      '--plot',
      plot,
    ]);
    expect(e.code).toBe(0);
    const l = parseCsv(readFileSync(lat, 'utf8'));
    expect(l.header).toEqual(['mu0', 'mu1', 'logvar0', 'logvar1']);
    expect(l.rows).toBe(50);
    const { mu } = vae.encode(XR.subarray(0, 50 * 64));
    for (let i = 0; i < 50; i++) expect(l.data[i * 4]).toBeCloseTo(mu[i * 2], 5);
    expect(existsSync(plot)).toBe(true);
  });

  it("eval --split test reads MNIST's test images (the same numbers as evaluate on them)", async () => {
    const vae = await VAE.create({ inputDim: 784, encoder: [16], latentDim: 2, seed: 2, threads: 1 });
    const model = join(dir, 'mnist-tiny.safetensors');
    await saveModel(model, vae);
    const r = await cli([
      'eval',
      '--model',
      model,
      '--data',
      'mnist',
      '--split',
      'test',
      '--rows',
      '30',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const got = JSON.parse(r.stdout);
    const { test } = await loadMnist();
    expect(got).toMatchObject({
      data: 'MNIST test',
      rows: 30,
      loss: vae.evaluate(test.x.subarray(0, 30 * 784), { seed: 1 }).loss,
    });
    const bad = await cli(['eval', '--model', model, '--data', join(dir, 'data.csv'), '--split', 'test']);
    expect(bad.stderr).toMatch(/--split test: data\.csv has no test split/);
  });

  it('names the problem before training: --out a file, a ragged CSV, mixed image sizes, --epochs -1', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    let r = await cli(['train', '--data', csvFile, '--out', file]);
    expect([r.code, r.stderr]).toEqual([
      1,
      `wasm-vae: --out ${file} is a file, not a folder\nRun with --help for usage.\n`,
    ]);
    r = await cli(['train', '--data', csvFile, '--out', join(file, 'sub')]);
    expect(r.stderr).toMatch(/--out .*sub is not a writable folder \(ENOTDIR\)/);
    r = await cli(['sample', '--model', 'm.safetensors', '--out', join(dir, 'nope', 's.png')]);
    expect(r.stderr).toMatch(/does not exist or is not writable/);
    const ragged = join(dir, 'ragged.csv');
    writeFileSync(ragged, '1,2,3\n4,5,6\n7,8\n');
    r = await cli(['train', '--data', ragged, '--out', join(dir, 'r')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ragged\.csv: .*line 3/);
    const mixed = join(dir, 'mixed');
    mkdirSync(mixed);
    writeFileSync(
      join(mixed, 'a.png'),
      encode({ width: 8, height: 8, data: new Uint8Array(64), channels: 1, depth: 8 }),
    );
    writeFileSync(
      join(mixed, 'b.png'),
      encode({ width: 9, height: 8, data: new Uint8Array(72), channels: 1, depth: 8 }),
    );
    r = await cli(['train', '--data', mixed, '--out', join(dir, 'm')]);
    expect(r.stderr).toMatch(
      /b\.png is 9×8 pixels but a\.png is 8×8: the images of a folder must have one size/,
    );
    r = await cli(['train', '--data', csvFile, '--epochs', '-1', '--out', join(dir, 'e')]);
    expect(r.stderr).toMatch(/--epochs must be an integer ≥ 1, got "-1"/);
    r = await cli(['train', '--data', 'nowhere.csv', '--out', join(dir, 'n')]);
    expect(r.stderr).toMatch(/--data nowhere\.csv: no such file or folder/);
    const help = await cli(['encode', '--help']);
    expect([help.code, help.stdout]).toEqual([0, commandUsage('encode')]);
  });
});
