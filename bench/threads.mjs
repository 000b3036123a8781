// Thread scaling in the steady state, alone (npm run bench reports the same in its training part):
// Trainer.fit on MNIST (the reference model) at each batch size with 1 thread and with N threads,
// each timed over an epoch from the same snapshot of a model that has trained `--warm` epochs,
// against N independent single-thread processes training at once (lib/train.mjs measureBatch).
// Usage: node --experimental-wasm-relaxed-simd bench/threads.mjs [--threads N] [--warm 2]
//        [--rows 60000] [--batches 32,128,512] [--rounds 2] [--json out.json]
import { availableParallelism, cpus } from 'node:os';
import { writeFileSync } from 'node:fs';
import { measureBatch, mnistRows } from './lib/train.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
};
const N = Number(arg('threads', availableParallelism()));
const WARM = Number(arg('warm', 2));
const ROWS = Number(arg('rows', 60000));
const BATCHES = String(arg('batches', '32,128,512')).split(',').map(Number);
const ROUNDS = Number(arg('rounds', 2));

const { x } = await mnistRows(ROWS);
console.log(
  `${cpus()[0]?.model ?? '?'}, ${availableParallelism()} cores, Node ${process.version}; ${ROWS} MNIST rows, ${WARM} warm epochs, ${ROUNDS} rounds`,
);
const results = [];
for (const batch of BATCHES) {
  const row = await measureBatch(x, batch, { threads: N, warm: WARM, rounds: ROUNDS, log: console.log });
  results.push(row);
  console.log(
    `batch ${batch}: 1 thread ${row.steady1.toFixed(0)} samples/s (fresh ${row.fresh1.toFixed(0)}), ${row.threads} threads ${row.steadyN.toFixed(0)} (fresh ${row.freshN.toFixed(0)}): ` +
      `speed-up ${row.speedup.toFixed(2)}×; ${row.threads} processes ${row.hardware.toFixed(2)}× one → ${(row.efficiency * 100).toFixed(0)}% of the hardware's scaling`,
  );
}
const json = arg('json');
if (json)
  writeFileSync(
    json,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        cpu: cpus()[0]?.model,
        cores: availableParallelism(),
        node: process.version,
        rows: ROWS,
        warm: WARM,
        results,
      },
      null,
      1,
    ),
  );
