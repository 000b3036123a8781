// Soak at a reduced size: scripts/soak.mjs (npm run soak runs the full 10,000 steps and 1,000
// cycles) in a child `node --expose-gc`, so the heap is measured after real full GCs and outside
// vitest's own allocations. Growth is measured from the end of warm-up (the first 20% of the
// samples) to the last sample.
//
// Thresholds, and why:
// - wasm memory (vae.memoryBytes) during training: +0 bytes. The Trainer reserves the arena for
//   its batch before the first step and a step of a fixed shape never asks for more, so any growth
//   is a bug (a WebAssembly memory cannot shrink, so growth would also be permanent).
// - JS heap (heapUsed after gc): +3 MiB, for training and for cycles. Measured: +0.1 MiB (noise of
//   where V8's heap settles). A leak of one 32×784 batch copy per step would be +78 MiB over the
//   800 post-warm-up steps; one leaked BatchInfo-sized object (~4 KB with its closure) per step
//   +3 MiB; a leaked model per cycle (its config, arena views, pool) well over 3 MiB in 24 cycles.
// - process threads (/proc/self/status, Linux): +1 at most. Each model on 2 kernel threads starts
//   one worker thread; a pool not ended by dispose() would add one per cycle (+24). One is
//   tolerated for a helper thread V8 or libuv may start late.
// - live Worker handles after the cycles: 0. rss: +32 MiB (each leaked model holds its own wasm
//   memory of ≥ 1 MiB, so 24 leaked cycles would pass it only together with the threads check).
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

interface Growth {
  start: number;
  afterWarmup: number;
  end: number;
  growth: number;
  maxAfterWarmup: number;
}
interface Result {
  training: {
    steps: number;
    seconds: number;
    lastLoss: number;
    memoryBytes: Growth;
    heapUsedMiB: Growth;
    threads: Growth;
  };
  cycles: {
    cycles: number;
    seconds: number;
    lastElbo: number;
    heapUsedMiB: Growth;
    externalMiB: Growth;
    rssMiB: Growth;
    threads: Growth;
    samples: { activeWorkers: number }[];
  };
}

function soak(args: string[]): Promise<{ result: Result; stdout: string }> {
  return new Promise((res, rej) =>
    execFile(
      process.execPath,
      ['--expose-gc', '--experimental-wasm-relaxed-simd', join(ROOT, 'scripts/soak.mjs'), ...args],
      { cwd: ROOT, timeout: 110_000, maxBuffer: 64 * 2 ** 20 },
      (err, stdout, stderr) => {
        if (err) return rej(new Error(`${err.message}\n${stderr}`));
        const lines = stdout.trim().split('\n');
        res({ result: JSON.parse(lines[lines.length - 1]) as Result, stdout: lines.slice(0, -1).join('\n') });
      },
    ),
  );
}

describe('soak (reduced: 1,000 steps of the reference model on 2 threads, 30 model cycles)', () => {
  it('no growth of wasm memory, JS heap or threads after warm-up', async () => {
    const { result, stdout } = await soak([
      '--steps',
      '1000',
      '--cycles',
      '30',
      '--batch',
      '32',
      '--no-write',
    ]);
    console.log(stdout);
    const tr = result.training,
      cy = result.cycles;
    expect(tr.steps).toBe(1000);
    expect(Number.isFinite(tr.lastLoss)).toBe(true);
    expect(tr.memoryBytes.growth).toBe(0);
    expect(tr.memoryBytes.maxAfterWarmup).toBe(tr.memoryBytes.afterWarmup);
    expect(tr.heapUsedMiB.growth).toBeLessThan(3);
    expect(tr.threads.growth).toBeLessThanOrEqual(1);

    expect(cy.cycles).toBe(30);
    expect(Number.isFinite(cy.lastElbo)).toBe(true);
    expect(cy.heapUsedMiB.growth).toBeLessThan(3);
    expect(cy.externalMiB.growth).toBeLessThan(2);
    expect(cy.rssMiB.growth).toBeLessThan(32);
    expect(cy.threads.growth).toBeLessThanOrEqual(1);
    expect(cy.threads.end).toBeLessThanOrEqual(tr.threads.start + 1);
    expect(cy.samples[cy.samples.length - 1].activeWorkers).toBe(0);
  });
});
