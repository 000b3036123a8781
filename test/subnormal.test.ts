// No subnormal slow-down: WebAssembly has no flush-to-zero mode, and Adam's first moment of a
// parameter whose gradient is exactly zero (weights of MNIST's always-black border pixels, dead
// ReLU units) decays by β1 every step until it sticks a few ulps above zero, where Intel cores
// take a microcode assist on every operand (measured: ~74,000 such floats after 2-3 epochs, and
// training fell from 4,057 to ~2,500 samples/s at batch 32). The optimizers flush subnormal state
// and parameters to zero (assembly/optim.ts): after 3 epochs of the reference model on MNIST at
// batch 32, the trainer's whole saved state holds no subnormal float.
import { describe, expect, it } from 'vitest';
import { VAE, Trainer, decodeSafetensors } from '../src/node.js';
import { loadMnist } from '../src/data/node.js';

const isSubnormal = (v: number) => v !== 0 && Math.abs(v) < 2 ** -126;

describe('subnormals', () => {
  it('none in params or optimizer state after 3 epochs of the reference model on MNIST at batch 32', async () => {
    const { train } = await loadMnist();
    const vae = await VAE.create({ inputDim: 784, encoder: [400], latentDim: 20, seed: 1 });
    const t = new Trainer(vae, { batchSize: 32 });
    await t.fit(train.x, { epochs: 3 });
    const { tensors } = decodeSafetensors(t.save());
    let floats = 0,
      subnormal = 0,
      zeroMoments = 0;
    for (const [name, e] of tensors) {
      if (e.dtype !== 'F32') continue;
      const d = e.data as Float32Array;
      floats += d.length;
      for (const v of d) if (isSubnormal(v)) subnormal++;
      if (name === 'optimizer.exp_avg.encoder.0.weight') for (const v of d) if (v === 0) zeroMoments++;
    }
    console.log(
      `[subnormal] ${floats} floats saved, ${subnormal} subnormal, ${zeroMoments} first moments of encoder.0.weight flushed to 0 (${vae.threads} threads)`,
    );
    expect(floats).toBeGreaterThan(3 * 650_000); // params, exp_avg, exp_avg_sq
    expect(subnormal).toBe(0);
    // the moments of the border pixels' weights are exactly 0 (flushed), not merely tiny
    expect(zeroMoments).toBeGreaterThan(10_000);
    vae.dispose();
  });
});
