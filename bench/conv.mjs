#!/usr/bin/env node
// Conv VAE training step: Keras-io's convolutional VAE (PRESETS.kerasIoConv: 28×28 → conv 32 →
// conv 64 → dense 16 → z 2 → dense 3136 → deconv 64 → deconv 32 → 3×3 deconv head, Bernoulli
// on logits, summed loss, Adam 1e-3) at batch 32 and 128, wasm-vae (relaxed SIMD and SIMD; 1 and
// 2 threads) against TensorFlow.js cpu and wasm (bench/peers/tfjs-conv.mjs; tfjs-wasm cannot
// train a conv model and reports its error) and PyTorch on the same cores
// (bench/pytorch_conv_step.py, 1 and 2 intra-op threads). A step is what Trainer.fit runs for a
// batch: draw ε, forward, loss, backward, Adam. Figures are samples/s, median with p10–p90 over
// timed samples after warm-up (bench/lib/measure.mjs). The machine's load average is recorded:
// on a shared machine every figure drops with it.
//
//   npm run build && node --experimental-wasm-relaxed-simd bench/conv.mjs [--seconds 3] [--batches 32,128]
//        [--skip tfjs-cpu,tfjs-wasm,pytorch] [--tfjs-cpu-json FILE]
// Writes bench/results/conv.json and bench/results/conv.md.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { VAE, PRESETS, availableBuilds } from '../dist/node.js';
import { Optimizer } from '../dist/optim.js';
import { measure, rate } from './lib/measure.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const seconds = Number(arg('seconds', '3')),
  batches = arg('batches', '32,128').split(',').map(Number),
  skip = arg('skip', '').split(',');
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const load0 = loadavg()[0];

const rows = [];
const builds = (await availableBuilds()).filter((b) => b !== 'scalar');
for (const build of builds)
  for (const threads of [1, 2])
    for (const B of batches) {
      const vae = await VAE.create({ ...PRESETS.kerasIoConv, seed: 1, build, threads });
      const net = vae.net;
      net.reserve({ dataRows: B, sampleRows: B });
      const x = net.actView('x', B * 784);
      for (let i = 0; i < x.length; i++) x[i] = (i * 2654435761) % 97 < 20 ? 1 : 0;
      const opt = new Optimizer(net, { name: 'adam', lr: 1e-3 });
      const step = () => {
        net.sampleEps(B, 1);
        net.loss(B, 1);
        opt.step();
      };
      const r = measure(step, { seconds, warmSeconds: 1, minSamples: 5, minSampleMs: 1 });
      rows.push({
        system: `wasm-vae ${build}`,
        threads: vae.threads,
        batch: B,
        samplesPerSec: rate(r, B, 4),
      });
      console.error(rows.at(-1));
      vae.dispose();
    }

const peer = (cmd, args, env = {}) => {
  try {
    return JSON.parse(
      execFileSync(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 1 << 24 }).toString(),
    );
  } catch (e) {
    return { error: String(e.message).split('\n')[0] };
  }
};
const peers = {};
// --tfjs-cpu-json FILE: a result of bench/peers/tfjs-conv.mjs --backend cpu from the same machine (it takes minutes)
if (arg('tfjs-cpu-json', '')) peers['tfjs-cpu'] = JSON.parse(readFileSync(arg('tfjs-cpu-json', ''), 'utf8'));
for (const backend of ['wasm', 'cpu'])
  if (!skip.includes(`tfjs-${backend}`) && !peers[`tfjs-${backend}`])
    peers[`tfjs-${backend}`] = peer(process.execPath, [
      here('./peers/tfjs-conv.mjs'),
      '--backend',
      backend,
      '--batches',
      batches.join(','),
      '--seconds',
      String(seconds),
    ]);
if (!skip.includes('pytorch'))
  peers.pytorch = peer(
    '/usr/bin/python3',
    [
      here('./pytorch_conv_step.py'),
      '--batches',
      batches.join(','),
      '--threads',
      '1,2',
      '--seconds',
      String(seconds),
    ],
    { OPENBLAS_NUM_THREADS: '2' },
  );

const out = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  loadAverage: [load0, loadavg()[0]],
  model: 'PRESETS.kerasIoConv (134,165 parameters)',
  wasmVae: rows,
  peers,
};
writeFileSync(here('./results/conv.json'), JSON.stringify(out, null, 2) + '\n');
const fmt = (s) => (s ? `${s.median} (${s.p10}–${s.p90})` : '');
let md = `# Conv VAE training step (Keras-io's conv VAE, samples/s, median (p10–p90))\n\n${out.date}, ${out.cpu}, ${out.cores} cores, Node ${out.node}, load average ${out.loadAverage.map((v) => v.toFixed(1)).join(' → ')}\n\n| system | threads | ${batches.map((b) => `batch ${b}`).join(' | ')} |\n| --- | --- | ${batches.map(() => '---').join(' | ')} |\n`;
for (const sys of [...new Set(rows.map((r) => `${r.system}|${r.threads}`))]) {
  const [s, t] = sys.split('|');
  md += `| ${s} | ${t} | ${batches.map((b) => fmt(rows.find((r) => r.system === s && String(r.threads) === t && r.batch === b)?.samplesPerSec)).join(' | ')} |\n`;
}
for (const [name, p] of Object.entries(peers)) {
  if (p.error) md += `| ${name} | | ${p.error} |\n`;
  else if (name === 'pytorch')
    for (const t of [1, 2])
      md += `| pytorch ${p.torch} | ${t} | ${batches
        .map((b) => {
          const r = p.results.find((x) => x.batch === b && x.threads === t);
          return r ? `${r.samplesPerSec} (${r.p10}–${r.p90})` : '';
        })
        .join(' | ')} |\n`;
  else
    md += `| ${name} ${p.tfjs} | 1 | ${batches
      .map((b) => {
        const r = p.results.find((x) => x.batch === b);
        return r?.error ? r.error : fmt(r?.samplesPerSec);
      })
      .join(' | ')} |\n`;
}
writeFileSync(here('./results/conv.md'), md);
console.log(md);
