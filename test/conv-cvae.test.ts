// The conditional VAE (issue 13) on image models (issue 14): the condition joins the first layer
// of each side, which must read a flat vector — a dense layer (or fc_mu / fc_out when a side has
// no layers). Conv-first sides are refused by name; dense-first image models train, and the
// parameter count the config computes (before allocating) is the network's.
import { describe, it, expect } from 'vitest';
import { VAE, Trainer, ConfigError, oneHot, decodeSafetensors } from '../dist/node.js';
import { parameterCount, resolveModelConfig } from '../src/config.js';
import { randArray } from './helpers.js';

const shape: [number, number, number] = [1, 8, 8];

describe('conditional image models', () => {
  it('a conv first layer on either side is a ConfigError naming the entry', async () => {
    const convFirst = {
      inputShape: shape,
      encoder: [{ conv: 4, kernel: 3, stride: 2, padding: 1 }],
      latentDim: 2,
      decoder: [16],
      conditionDim: 3,
    };
    await expect(VAE.create(convFirst)).rejects.toThrow(ConfigError);
    await expect(VAE.create(convFirst)).rejects.toThrow(
      /encoder's first layer, which must be dense; encoder\[0\] is/,
    );
    await expect(
      VAE.create({
        inputShape: shape,
        encoder: [16],
        latentDim: 4,
        decoder: [
          { reshape: [1, 2, 2] },
          { deconv: 4, kernel: 4, stride: 2, padding: 1 },
          { deconv: 4, kernel: 4, stride: 2, padding: 1 },
        ],
        conditionDim: 3,
      }),
    ).rejects.toThrow(/decoder's first layer, which must be dense; decoder\[1\] is/);
  });

  it('dense-first sides with conv layers after them train; the config counts the network', async () => {
    const opts = {
      inputShape: shape,
      encoder: [
        { dense: 32 },
        { reshape: [2, 4, 4] as [number, number, number] },
        { conv: 4, kernel: 3, stride: 2, padding: 1 },
      ],
      latentDim: 2,
      decoder: [
        { dense: 32 },
        { reshape: [2, 4, 4] as [number, number, number] },
        { deconv: 4, kernel: 4, stride: 2, padding: 1 },
      ],
      conditionDim: 3,
      seed: 2,
    };
    const vae = await VAE.create(opts);
    const count = parameterCount(resolveModelConfig(opts));
    expect(vae.parameterCount).toBe(count);
    // encoder.0 reads [x | y]: (32, 64 + 3); decoder.0 reads [z | y]: (32, 2 + 3)
    const file = decodeSafetensors(vae.save());
    expect(file.tensors.get('encoder.0.weight')!.shape).toEqual([32, 67]);
    expect(file.tensors.get('decoder.0.weight')!.shape).toEqual([32, 5]);
    const x = randArray(40 * 64, 1, 0, 1);
    const y = oneHot(
      Uint8Array.from({ length: 40 }, (_, i) => i % 3),
      3,
    );
    const h = await new Trainer(vae, { batchSize: 8 }).fit(x, { epochs: 3, condition: y });
    expect(h.epochs.every((e) => Number.isFinite(e.loss))).toBe(true);
    expect(h.epochs[2].loss).toBeLessThan(h.epochs[0].loss);
    const again = await VAE.load(vae.save());
    expect(again.evaluate(x, { seed: 1, condition: y }).loss).toBe(
      vae.evaluate(x, { seed: 1, condition: y }).loss,
    );
    vae.dispose();
    again.dispose();
  });
});
