// The reproduction harness (scripts/reproduce.mjs): every name's --quick run in a child process,
// writing to a temporary directory. Checks the JSON's structure, that the measured numbers are
// finite and in a sane range for the protocol, what must hold between them (the bound rises with
// training; L_k over k = 200 samples is above the one-sample ELBO, as the IWAE bound must be), that
// a run stopped by --time-budget says so, that --render rewrites the same table, and that a bad
// option is refused before anything runs.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
let dir = '';

function reproduce(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) =>
    execFile(
      process.execPath,
      [
        '--experimental-wasm-relaxed-simd',
        join(ROOT, 'scripts/reproduce.mjs'),
        ...args,
        '--out',
        dir,
        '--model-dir',
        dir,
        '--quiet',
      ],
      { cwd: ROOT, timeout: 280_000, maxBuffer: 16 * 2 ** 20 },
      (err, stdout, stderr) =>
        res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/* eslint-disable @typescript-eslint/no-explicit-any */
async function quick(name: string, extra: string[] = []): Promise<any> {
  const r = await reproduce([name, '--quick', ...extra]);
  if (r.code !== 0) throw new Error(`reproduce ${name} exited ${r.code}:\n${r.stderr}`);
  const json = JSON.parse(readFileSync(join(dir, `reproduce-${name}.json`), 'utf8'));
  // what every run records
  expect(json.name).toBe(name);
  expect(typeof json.title).toBe('string');
  expect(Number.isNaN(Date.parse(json.date))).toBe(false);
  expect(json.quick).toBe(true);
  expect(json.cutShort).toBe(true);
  expect(json.cutShortReason).toContain('--quick');
  expect(json.command).toContain(`reproduce -- ${name} --quick`);
  expect(typeof json.protocol.source).toBe('string');
  expect(Array.isArray(json.deviations)).toBe(true);
  expect(json.config.model ?? json.config).toBeTruthy();
  expect(Number.isSafeInteger(json.seed)).toBe(true);
  expect(['relaxed', 'simd', 'scalar']).toContain(json.build);
  expect(json.threads).toBeGreaterThanOrEqual(1);
  expect(json.machine.cores).toBeGreaterThanOrEqual(1);
  expect(json.machine.node).toBe(process.version);
  expect(json.wallSeconds).toBeGreaterThan(0);
  expect(json.trainSeconds).toBeGreaterThan(0);
  expect(json.trainSeconds).toBeLessThan(json.wallSeconds);
  expect(json.samplesTrained).toBeGreaterThan(0);
  expect(json.samplesPerSec).toBeCloseTo(json.samplesTrained / json.trainSeconds, 6);
  for (const f of [json.modelFile].flat()) {
    expect(existsSync(join(ROOT, f.path)) || existsSync(f.path)).toBe(true);
    expect(f.bytes).toBeGreaterThan(100_000);
  }
  const md = readFileSync(join(dir, `reproduce-${name}.md`), 'utf8');
  expect(md).toContain(`### ${json.title}`);
  expect(md).toContain('Cut short');
  expect(md).toMatch(/\n\| .* \|\n\| (-+:?|---) \|/);
  const svg = readFileSync(join(dir, `reproduce-${name}.svg`), 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  expect(statSync(join(dir, `reproduce-${name}.svg`)).size).toBeLessThan(200_000);
  return json;
}

const inRange = (v: number, lo: number, hi: number) => {
  expect(Number.isFinite(v)).toBe(true);
  expect(v).toBeGreaterThan(lo);
  expect(v).toBeLessThan(hi);
};

describe('npm run reproduce -- <name> --quick', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wasm-vae-reproduce-'));
  }, 300_000);

  it('pytorch-example: two epochs of the 784-400-20 model, test −ELBO falling', async () => {
    const j = await quick('pytorch-example');
    expect(j.points.map((p: any) => p.epoch)).toEqual([1, 2]);
    for (const p of j.points) {
      inRange(p.trainLoss, 100, 400);
      inRange(p.testLoss, 100, 400);
      expect(p.testReconstruction + p.testKl).toBeCloseTo(p.testLoss, 6);
    }
    expect(j.points[1].testLoss).toBeLessThan(j.points[0].testLoss);
    expect(j.points[0].pytorchTestLoss).toBe(127.5);
    expect(j.samplesTrained).toBe(2 * 10_000);
  }, 300_000);

  it('pyro: five epochs of 784-400-50 softplus, test ELBO rising', async () => {
    const j = await quick('pyro');
    expect(j.config.model).toMatchObject({ encoder: [400], latentDim: 50, activation: 'softplus' });
    expect(j.config.trainer).toMatchObject({ batchSize: 256, optimizer: { name: 'adam', lr: 1e-3 } });
    expect(j.points).toHaveLength(5);
    for (const p of j.points) {
      inRange(p.trainElbo, -400, -90);
      inRange(p.testElbo, -400, -90);
    }
    expect(j.points[4].testElbo).toBeGreaterThan(j.points[0].testElbo);
    expect(j.summary.comparisons).toEqual([]); // no published point within five epochs
    expect(j.summary.goalMet).toBe(false);
  }, 300_000);

  it('kw-fig2: all five N_z, a step size picked from the paper’s three, bounds rising', async () => {
    const j = await quick('kw-fig2', ['--threads', '1']);
    expect(j.runs.map((r: any) => r.nz)).toEqual([3, 5, 10, 20, 200]);
    expect(j.config.trainer).toMatchObject({
      batchSize: 100,
      reduction: 'dataset',
      optimizer: { name: 'adagrad', weightDecay: 1 },
    });
    for (const r of j.runs) {
      expect([0.01, 0.02, 0.1]).toContain(r.stepSize);
      // the winner had the highest pilot bound
      const pilots = Object.values(r.pilotTrainingBound) as number[];
      expect(r.pilotTrainingBound[String(r.stepSize)]).toBe(Math.max(...pilots));
      expect(r.samples).toBe(10_000);
      inRange(r.finalTrainBound, -400, -80);
      inRange(r.finalTestBound, -400, -80);
      const curve = j.points
        .filter((p: any) => p.nz === r.nz && p.lr === r.stepSize)
        .map((p: any) => p.samples);
      expect(curve).toEqual([1000, 2000, 5000, 10_000]);
      expect(r.riseOverLastDecade).toBeGreaterThan(0);
    }
    expect(j.cutShortReason).toContain("of the paper's 100,000,000");
  }, 300_000);

  let iwae: any = null;
  it('iwae: three schedule stages, L_200 above the one-sample ELBO, active units counted', async () => {
    const j = await quick('iwae', ['--threads', '1']);
    iwae = j;
    expect(j.config.passes).toBe(13);
    expect(j.perPass).toHaveLength(13);
    // the schedule: lr 1e-3·10^(−i/7) over 1, 3, 9 passes
    expect(j.perPass[0].lr).toBeCloseTo(1e-3, 12);
    expect(j.perPass[1].lr).toBeCloseTo(1e-3 * 10 ** (-1 / 7), 12);
    expect(j.perPass[4].lr).toBeCloseTo(1e-3 * 10 ** (-2 / 7), 12);
    expect(j.points.map((p: any) => p.stage)).toEqual([0, 1, 2]);
    const s = j.summary;
    expect(s.evalK).toBe(200);
    expect(s.testImagesEvaluated).toBe(200);
    inRange(s.testNll, 80, 300);
    // L_k ≥ L_1: the importance-weighted bound is tighter than the ELBO (gap several nats here)
    expect(s.testNll).toBeLessThan(-s.testElboK1);
    expect(s.activeUnits).toBeGreaterThanOrEqual(0);
    expect(s.activeUnits).toBeLessThanOrEqual(50);
    expect(s.activeUnitVariances).toHaveLength(50);
    expect(s.activeUnits).toBe(s.activeUnitVariances.filter((v: number) => v > 1e-2).length);
    expect(s.logLikelihoodSeconds).toBeGreaterThan(0);
    expect(s.goalMet).toBe(null);
    expect(j.cutShortReason).toContain('L_200 instead of L_5000');
  }, 300_000);

  it('iwae stopped after 4 passes and continued with --resume gives the same bits as the straight run', async () => {
    expect(iwae).not.toBe(null);
    const a = await reproduce(['iwae', '--quick', '--threads', '1', '--passes', '4']);
    expect(a.code).toBe(0);
    const first = JSON.parse(readFileSync(join(dir, 'reproduce-iwae.json'), 'utf8'));
    expect(first.cutShortReason).toContain('4 of the schedule');
    const b = await reproduce(['iwae', '--quick', '--threads', '1', '--resume']);
    expect(b.code).toBe(0);
    const j = JSON.parse(readFileSync(join(dir, 'reproduce-iwae.json'), 'utf8'));
    expect(j.summary.resumedAtPass).toBe(4);
    expect(j.perPass.map((p: any) => p.trainLoss)).toEqual(iwae.perPass.map((p: any) => p.trainLoss));
    expect(j.points).toEqual(iwae.points);
    expect(j.summary.testNll).toBe(iwae.summary.testNll);
    expect(j.summary.activeUnitVariances).toEqual(iwae.summary.activeUnitVariances);
    expect(j.samplesTrained).toBe(iwae.samplesTrained);
  }, 300_000);

  // PyTorch is Debian's python3-torch at /usr/bin/python3 (.ci/run installs it)
  const HAS_TORCH = (() => {
    try {
      execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  let keras: any = null;
  it('keras-conv: two epochs of the conv preset beside PyTorch, both test −ELBOs falling', async () => {
    const j = await quick('keras-conv', ['--threads', '1']);
    keras = j;
    expect(j.config.model).toMatchObject({ inputShape: [1, 28, 28], latentDim: 2 });
    expect(j.config.trainer).toMatchObject({ batchSize: 128, reduction: 'sum' });
    expect(j.protocol.model).toContain('134,165 parameters');
    expect(j.points.map((p: any) => p.epoch)).toEqual([1, 2]);
    for (const p of j.points) {
      inRange(p.trainLoss, 150, 600);
      inRange(p.testLoss, 150, 600);
      expect(p.testReconstruction + p.testKl).toBeCloseTo(p.testLoss, 6);
    }
    expect(j.points[1].testLoss).toBeLessThan(j.points[0].testLoss);
    expect(j.samplesTrained).toBe(2 * 1_000);
    expect(j.pytorch.mode).toBe('beside');
    if (HAS_TORCH) {
      expect(j.pytorch.error).toBe(null);
      expect(j.pytorch.threads).toBe(1);
      for (const p of j.points) inRange(p.pytorchTestLoss, 150, 600);
      expect(j.points[1].pytorchTestLoss).toBeLessThan(j.points[0].pytorchTestLoss);
      expect(j.summary.pytorchSamplesPerSec).toBeGreaterThan(0);
    } else expect(j.cutShortReason).toContain('PyTorch did not run');
  }, 300_000);

  it('keras-conv stopped after 1 epoch and continued with --resume gives the straight run’s bits', async () => {
    expect(keras).not.toBe(null);
    const a = await reproduce(['keras-conv', '--quick', '--threads', '1', '--epochs', '1']);
    expect(a.code).toBe(0);
    const b = await reproduce(['keras-conv', '--quick', '--threads', '1', '--resume']);
    expect(b.code).toBe(0);
    const j = JSON.parse(readFileSync(join(dir, 'reproduce-keras-conv.json'), 'utf8'));
    expect(j.resumedAtEpoch).toBe(1);
    expect(j.points.map((p: any) => [p.trainLoss, p.testLoss])).toEqual(
      keras.points.map((p: any) => [p.trainLoss, p.testLoss]),
    );
    if (HAS_TORCH) expect(j.points.map((p: any) => p.epoch)).toEqual([1, 2]);
    const c = await reproduce(['keras-conv', '--pytorch', 'sometimes']);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('--pytorch must be one of beside, after, off');
  }, 300_000);

  it('a run stopped by --time-budget says so, and --render rewrites the same table', async () => {
    const r = await reproduce(['pytorch-example', '--quick', '--epochs', '200', '--time-budget', '8']);
    expect(r.code).toBe(0);
    const j = JSON.parse(readFileSync(join(dir, 'reproduce-pytorch-example.json'), 'utf8'));
    expect(j.cutShort).toBe(true);
    expect(j.cutShortReason).toContain('the --time-budget of 8 s ran out');
    expect(j.points.length).toBeLessThan(200);
    const md = readFileSync(join(dir, 'reproduce-pytorch-example.md'), 'utf8');
    expect(md).toContain('--time-budget of 8 s ran out');
    const again = await reproduce(['pytorch-example', '--render']);
    expect(again.code).toBe(0);
    expect(readFileSync(join(dir, 'reproduce-pytorch-example.md'), 'utf8')).toBe(md);
  }, 300_000);

  it('refuses an unknown name or option before running', async () => {
    const a = await reproduce(['pyro', '--bogus']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("Unknown option '--bogus'");
    const b = await reproduce(['nope']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('unknown name "nope"');
    const c = await reproduce(['iwae', '--stages', '0']);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('--stages must be a positive integer');
  }, 300_000);
});
