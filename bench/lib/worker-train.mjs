// Threaded training in a worker, the same protocol in Node (dist/node.js) and in Chromium (the
// inline build, bench/browser/page.mjs): WorkerTrainer with N kernel threads trains the reference
// model on MNIST rows at one batch size; epoch 1 is the fresh figure, and after `warm` epochs in all
// `rounds` more epochs give the steady figures (each the epoch record's samples/s). The last
// epoch's loss is returned too: the two environments must agree to the bit.
export async function workerTrain(lib, x, { batch = 128, threads, warm = 2, rounds = 2 }) {
  const vae = await lib.VAE.create({ inputDim: 784, encoder: [400], latentDim: 20, seed: 1, threads: 1 });
  const t = await lib.WorkerTrainer.create(vae, { batchSize: batch }, { threads });
  try {
    const first = (await t.fit(x, { epochs: 1 })).epochs.at(-1);
    for (let e = 1; e < warm; e++) await t.fit(x, { epochs: 1 });
    const steady = [];
    let last = first;
    for (let r = 0; r < rounds; r++) {
      last = (await t.fit(x, { epochs: 1 })).epochs.at(-1);
      steady.push(last.samplesPerSec);
    }
    return {
      batch,
      threads: t.threads,
      rows: x.length / 784,
      fresh: first.samplesPerSec,
      steady,
      lastLoss: last.loss,
    };
  } finally {
    t.terminate();
    vae.dispose();
  }
}
