// The bench's outputs from its JSON: the markdown report (tables with ratios and targets) and the
// SVG chart of training samples/s per system and batch size (a Vega-Lite spec rendered by
// src/cli/plot.ts, the one charting module: run after `npm run build`).
import { lossDiffs, LOSS_RTOL } from './verify.mjs';

const fmtInt = (v) => Math.round(v).toLocaleString('en-US');
const fmt = (v, d = 3) => {
  if (v == null || !Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 1000) return fmtInt(v);
  return Number(v.toPrecision(d)).toString();
};
const fig = (s, d = 3) =>
  s ? `${fmt(s.median, d)} [${fmt(s.p10 ?? s.min, d)}–${fmt(s.p90 ?? s.max, d)}]` : '–';
const ratioText = (r) =>
  r == null || !Number.isFinite(r) ? '–' : r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`;

export const SYSTEM_LABELS = {
  'wasm-vae-relaxed': 'wasm-vae relaxed SIMD',
  'wasm-vae-simd': 'wasm-vae SIMD',
  'wasm-vae-scalar': 'wasm-vae scalar',
  'ts-loop': 'plain TypeScript loop',
  'tfjs-cpu': 'tfjs cpu',
  'tfjs-wasm': 'tfjs-backend-wasm',
  pytorch: 'PyTorch (native)',
};
const ENV_LABELS = { node: 'Node', chromium: 'Chromium', native: 'CPython' };
export const label = (system, env) =>
  `${SYSTEM_LABELS[system] ?? system}${env && env !== 'native' ? ` (${ENV_LABELS[env] ?? env})` : ''}`;

/** align: one character per column, 'l' or 'r' (default: first column left, the rest right). */
const ORDER = [
  'wasm-vae-relaxed/node',
  'wasm-vae-simd/node',
  'wasm-vae-scalar/node',
  'tfjs-wasm/node',
  'tfjs-cpu/node',
  'pytorch/native',
  'wasm-vae-relaxed/chromium',
  'wasm-vae-simd/chromium',
  'wasm-vae-scalar/chromium',
  'tfjs-wasm/chromium',
  'tfjs-cpu/chromium',
];
const rank = (x) => {
  const i = ORDER.indexOf(`${x.system ?? x.peer}/${x.env}`);
  return i < 0 ? ORDER.length : i;
};
/** The distinct (system, env) pairs of step rows, in report order. */
function stepSeries(R) {
  const out = [];
  for (const s of R.step)
    if (!out.some((x) => x.system === s.system && x.env === s.env))
      out.push({ system: s.system, env: s.env });
  return out.sort((a, b) => rank(a) - rank(b));
}

function table(head, rows, align = null) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  const a = (i) => (align ? align[i] : i === 0 ? 'l' : 'r');
  return [line(head), line(head.map((h, i) => (a(i) === 'l' ? '---' : '---:'))), ...rows.map(line)].join(
    '\n',
  );
}

/** The training section: Trainer.fit on MNIST, fresh and steady, 1 and N threads, PyTorch beside it. */
function trainSection(R) {
  const out = [];
  const T = R.train,
    n = T?.threads ?? R.workerTrain?.node?.threads;
  if (T?.wasmVae?.length) {
    out.push(
      `## Training on MNIST, fresh and steady state, 1 and ${n} threads`,
      '',
      `Trainer.fit of the reference model on ${fmtInt(T.rows)} MNIST rows ([0, 1] pixels, as examples/vae), samples/s of one epoch. ` +
        `Fresh: epoch 1 of a new model. Steady: one epoch from a snapshot of a model that has trained ${T.warmEpochs} epochs (Trainer.save → Trainer.resume on each thread count), ` +
        `median of ${T.rounds} round(s). Hardware: ${n} independent single-thread processes resuming the same snapshot at once, their summed samples/s over one thread's — what the machine gives ${n} workers in this run.`,
      '',
      table(
        [
          'batch',
          'fresh, 1 thread',
          'steady, 1 thread',
          `fresh, ${n} threads`,
          `steady, ${n} threads`,
          'speed-up',
          `${n} processes`,
          'of the hardware',
        ],
        T.wasmVae.map((w) => [
          String(w.batch),
          fmtInt(w.fresh1),
          fmtInt(w.steady1),
          fmtInt(w.freshN),
          fmtInt(w.steadyN),
          ratioText(w.speedup),
          ratioText(w.hardware),
          `${(w.efficiency * 100).toFixed(0)}%`,
        ]),
      ),
      '',
    );
    if (T.efficiency)
      out.push(
        `One thread, batch 128, steady: fit trains ${fmtInt(T.efficiency.fitSamplesPerSec)} samples/s, ${T.efficiency.ratio} of the ${fmtInt(T.efficiency.allowedSamplesPerSec)} that its GEMMs alone allow (the step's GEMMs timed alone on the same kernels before and after: ${T.efficiency.gemmGflops.join(' / ')} GFLOP/s).`,
        '',
      );
  }
  if (T?.barrier) {
    const b = T.barrier;
    out.push(
      `The pool's cost per parallel call (a kernel on 16 floats, lib/barrier.mjs): ${b.usPerCallPool} µs with the ${b.threads} threads spinning between calls (one thread: ${b.usPerCallSerial} µs), ${b.usPerCallPoolAfterPause} µs when the workers were asleep (a 2 ms pause before each call; one thread: ${b.usPerCallSerialAfterPause} µs).`,
      '',
    );
  }
  if (T?.pytorch?.length) {
    const batches = T.pytorch[0].results.map((r) => r.batch);
    const rows = [];
    for (const p of T.pytorch)
      for (const t of Object.keys(p.results[0].steady))
        rows.push([
          `${p.config}${p.openblasCore && !p.config.includes(p.openblasCore) ? ` [core ${p.openblasCore}]` : ''}`,
          t,
          ...batches.map((b) => {
            const r = p.results.find((x) => x.batch === b);
            return `${fmtInt(r.fresh[t])} → ${fmtInt(r.steady[t])}`;
          }),
        ]);
    out.push(
      `PyTorch ${R.versions.torch ?? ''} (bench/pytorch_train.py), the same protocol: fresh → steady samples/s (steady: one epoch from a copy of the model and Adam state after ${T.warmEpochs} epochs at the largest thread count). torch.set_num_threads(t); OpenBLAS's own pool as stated:`,
      '',
      table(['configuration', 'threads', ...batches.map((b) => `batch ${b}`)], rows),
      '',
    );
    const slow = T.pytorch.flatMap((p) =>
      p.results.map(
        (r) =>
          `${p.config}, batch ${r.batch}: ${r.warmEpochs.map((e) => fmtInt(e.samplesPerSec)).join(' → ')}`,
      ),
    );
    out.push(`PyTorch's warm epochs, samples/s epoch by epoch (does it slow down?): ${slow.join('; ')}.`, '');
  }
  const e = R.e2e?.run;
  if (e?.wasmVae) {
    const rows = [
      [
        `wasm-vae (${e.wasmVae.threads} threads)`,
        fmt(e.wasmVae.wallSeconds),
        fmt(e.wasmVae.epochs.at(-1).testLoss, 5),
      ],
    ];
    if (e.pytorch)
      rows.push([
        `PyTorch (${e.pytorch.config}, ${e.pytorch.threads} threads)`,
        fmt(e.pytorch.wallSeconds),
        fmt(e.pytorch.epochs.at(-1).testLoss, 5),
      ]);
    out.push(
      `### End to end: npm start's run (${e.epochs} epochs at batch 128, the test −ELBO after each), wall seconds including reading MNIST`,
      '',
      table(['system', 'wall s', 'final test −ELBO'], rows),
      '',
    );
  }
  const w = R.workerTrain;
  if (w?.node) {
    const line = (name, r) => [
      name,
      String(r.threads),
      fmtInt(r.fresh),
      r.steady.map(fmtInt).join(' · '),
      String(r.lastLoss),
    ];
    out.push(
      `### Threaded WorkerTrainer, Node and Chromium (batch 128, ${fmtInt(w.node.rows)} MNIST rows)`,
      '',
      table(
        ['environment', 'threads', 'fresh', 'steady epochs', 'last-epoch loss'],
        [
          line('Node (worker_threads)', w.node),
          ...(w.chromium ? [line('Chromium (Web Worker)', w.chromium)] : []),
        ],
      ),
      '',
    );
  }
  if (R.trainTargets?.length)
    out.push(
      `### Targets of the threads issue (same run)`,
      '',
      table(
        ['target', 'measured', 'detail', 'status'],
        R.trainTargets.map((t) => [t.name, t.got == null ? '–' : fmt(t.got), t.detail, t.status]),
        'lrll',
      ),
      '',
    );
  return out;
}

export function markdown(R) {
  const out = [];
  const m = R.machine;
  out.push(`# wasm-vae benchmark (${R.mode} run)`, '');
  out.push(
    `${R.date} · ${m.cpu}${m.cpuFlags?.length ? ` (${m.cpuFlags.join(', ')})` : ''}, ${m.cores} cores, ${m.memGiB} GiB · ${m.platform} · Node ${m.node} (V8 ${m.v8})` +
      `${R.versions.chromium ? ` · Chromium ${R.versions.chromium}` : ''}${R.versions.torch ? ` · PyTorch ${R.versions.torch}` : ''}` +
      `${R.versions.tfjs ? ` · tfjs ${R.versions.tfjs}` : ''} · load average ${m.loadStart} at start, ${m.loadEnd} at end · ` +
      `whole run ${fmt(R.wallSeconds)} s.`,
    '',
  );
  out.push(
    'Every figure: median over timed samples after warm-up, with [p10–p90] of the samples. Single thread everywhere but the ' +
      'training section, which is Trainer.fit on MNIST at 1 and N threads in the steady state. Ratios divide medians of the same run.',
    '',
  );
  out.push(...trainSection(R));

  // ---- training step
  const batches = R.config.batches;
  const bestNode = R.best;
  if (R.step.length) {
    out.push(
      '## Training step (a fresh model on synthetic inputs, one thread)',
      '',
      'Reference model 784-400-20 (PyTorch examples/vae): ReLU, Bernoulli likelihood on logits, loss summed over the batch, ' +
        'Adam 1e-3; one step = draw ε + forward + loss + backward (writing the gradients) + Adam update, as Trainer.fit runs it. Samples/s:',
      '',
    );
    const systems = stepSeries(R);
    const get = (sys, env, b) => R.step.find((s) => s.system === sys && s.env === env && s.batch === b);
    out.push(
      table(
        ['system', ...batches.map((b) => `batch ${b}`)],
        systems.map(({ system, env }) => [
          `${label(system, env)}${system === bestNode && env === 'node' ? ' **◀**' : ''}`,
          ...batches.map((b) => fig(get(system, env, b)?.samplesPerSec)),
        ]),
      ),
      '',
    );
    const multi = systems.filter(({ system, env }) =>
      batches.some((b) => (get(system, env, b)?.rounds?.length ?? 0) > 1),
    );
    if (multi.length) {
      out.push(
        `Node and native figures are the best of ${Math.max(...R.step.map((s) => s.rounds?.length ?? 1))} alternating rounds; each round's median:`,
        '',
      );
      out.push(
        table(
          ['system', ...batches.map((b) => `batch ${b}`)],
          multi.map(({ system, env }) => [
            label(system, env),
            ...batches.map((b) => (get(system, env, b)?.rounds ?? []).map((v) => fmt(v)).join(' · ') || '–'),
          ]),
        ),
        '',
      );
    }
    if (R.ratios.length) {
      out.push(
        '### Ratios',
        '',
        `wasm-vae samples/s ÷ peer samples/s: ${label(bestNode, 'node')} for the Node and native peers; ` +
          `for the Chromium peers, ${R.bestChromium ? label(R.bestChromium, 'chromium') : 'wasm-vae in Chromium'} in the same page.`,
        '',
      );
      const peers = [];
      for (const r of R.ratios)
        if (!peers.some((p) => p.peer === r.peer && p.env === r.env))
          peers.push({ peer: r.peer, env: r.env });
      peers.sort((a, b) => rank(a) - rank(b));
      out.push(
        table(
          ['peer', ...batches.map((b) => `batch ${b}`)],
          peers.map(({ peer, env }) => [
            label(peer, env),
            ...batches.map((b) =>
              ratioText(R.ratios.find((r) => r.peer === peer && r.env === env && r.batch === b)?.ratio),
            ),
          ]),
        ),
        '',
      );
    }
  }

  // ---- targets
  if (R.targets.length) {
    out.push('## Targets (single thread, same run)', '');
    const rounds = R.targets.some((t) => t.perRound);
    out.push(
      table(
        ['target', 'measured', ...(rounds ? ['paired rounds'] : []), 'status'],
        R.targets.map((t) => [
          t.name,
          t.got == null ? '–' : ratioText(t.got),
          ...(rounds ? [t.perRound ? t.perRound.map(ratioText).join(' · ') : '–'] : []),
          t.status,
        ]),
        rounds ? 'lrrl' : 'lrl',
      ),
      '',
    );
    if (rounds)
      out.push(
        'Measured = best round ÷ best round; paired rounds = the ratio within each round (the two systems measured minutes apart in the same round).',
        '',
      );
    if (R.absoluteTargets?.length) {
      out.push('Earlier absolute targets (from the kernel work), for reference:', '');
      out.push(
        table(
          ['target', 'measured', 'status'],
          R.absoluteTargets.map((t) => [t.name, t.got, t.status]),
          'lrl',
        ),
        '',
      );
    }
  }

  // ---- kernels
  if (R.kernels.gemm.length) {
    const sys = [
      'wasm-vae-relaxed',
      'wasm-vae-simd',
      'wasm-vae-scalar',
      'ts-loop',
      'tfjs-cpu',
      'tfjs-wasm',
      'pytorch',
    ].filter((s) => R.kernels.gemm.some((g) => g.system === s));
    const kb = R.config.gemmBatches;
    out.push(
      `## Kernels (Node; PyTorch native)`,
      '',
      `GEMM GFLOP/s (2·M·N·K per call) for the three layouts of every reference layer at batch ${kb.join(', ')}: ` +
        'nt = forward (inp·Wᵀ), nn = input gradient (dout·W), tn = weight gradient (doutᵀ·inp).',
      '',
    );
    const rows = [];
    const keys = [];
    for (const g of R.kernels.gemm)
      if (!keys.some((k) => k.layer === g.layer && k.layout === g.layout && k.batch === g.batch))
        keys.push(g);
    for (const k of keys) {
      const cell = (s) =>
        fig(
          R.kernels.gemm.find(
            (g) => g.system === s && g.layer === k.layer && g.layout === k.layout && g.batch === k.batch,
          )?.gflops,
        );
      rows.push([`${k.layer} ${k.in}→${k.out} ${k.layout} (${k.M}×${k.N}×${k.K})`, ...sys.map(cell)]);
    }
    out.push(table(['GEMM', ...sys.map((s) => SYSTEM_LABELS[s])], rows), '');
    if (R.kernels.act.length) {
      const asys = sys.filter((s) => R.kernels.act.some((a) => a.system === s));
      out.push('Activations on 128×400, Gelem/s (backward = dout ⊙ f′):', '');
      const akeys = [];
      for (const a of R.kernels.act)
        if (!akeys.some((k) => k.act === a.act && k.dir === a.dir)) akeys.push(a);
      out.push(
        table(
          ['activation', ...asys.map((s) => SYSTEM_LABELS[s])],
          akeys.map((k) => [
            `${k.act} ${k.dir}`,
            ...asys.map((s) =>
              fig(R.kernels.act.find((a) => a.system === s && a.act === k.act && a.dir === k.dir)?.gelems),
            ),
          ]),
        ),
        '',
      );
    }
  }

  // ---- end to end
  if (R.e2e?.epoch || R.e2e?.timeToTarget) {
    const e = R.e2e.epoch,
      t = R.e2e.timeToTarget;
    out.push('## End to end (Node, MNIST, public API)', '');
    const rows = [];
    if (e) {
      rows.push([
        `one epoch, data handling included (loadMnist + VAE.create + Trainer.fit, ${e.rows.toLocaleString('en-US')} rows, batch 128, ${e.build})`,
        `${fmt(e.wallSeconds)} s wall (load ${fmt(e.loadSeconds)} s, fit ${fmt(e.fitSeconds)} s)`,
        `${fmtInt(e.samplesPerSec)} samples/s in fit; ${fmtInt(e.samplesPerSecWithLoading)} with loading`,
      ]);
    }
    if (t) {
      const what = t.reached
        ? `${t.reached.epochs} epochs, ${fmt(t.reached.seconds)} s (test −ELBO ${fmt(t.reached.testLoss, 5)})`
        : `not reached in ${t.epochs.length} epochs (${fmt(t.seconds)} s; last test −ELBO ${fmt(t.finalTestLoss, 5)})`;
      rows.push([
        `time to test −ELBO ≤ ${t.target} (PyTorch example config, test set evaluated every epoch, cap ${t.cap} epochs${R.e2e.loadSeconds ? '; data already loaded' : ''})`,
        what,
        'PyTorch examples/vae: 105.7 after epoch 10',
      ]);
    }
    out.push(table(['measurement', 'result', 'note'], rows, 'lll'), '');
    if (t)
      out.push(
        `Test −ELBO per epoch: ${t.epochs.map((x) => `${x.epoch}: ${fmt(x.testLoss, 5)}`).join(', ')}.`,
        '',
      );
  }

  // ---- native reference
  if (R.native) {
    out.push('## Native reference (PyTorch)', '');
    if (R.native.available) {
      const b = R.native.blas;
      out.push(
        `PyTorch ${R.native.torchVersion} (Debian python3-torch, ${R.native.python ? `Python ${R.native.python}, ` : ''}${R.native.interpreter}), 1 thread, CPU capability ${R.native.cpuCapability ?? '?'}. ` +
          `BLAS: **${b.kind}** — ${b.detail}. OPENBLAS_CORETYPE: **${b.coretype}**. OPENBLAS_NUM_THREADS=${b.numThreads}.`,
        '',
      );
    } else {
      out.push(`**Not measured:** ${R.native.note}`, '');
    }
  }

  // ---- browser
  if (R.browser) {
    out.push('## Browser', '');
    if (R.browser.available) {
      out.push(
        `Headless Chromium ${R.browser.chromium} via playwright-core (${R.browser.crossOriginIsolated ? 'cross-origin isolated' : 'not isolated'}), ` +
          `wasm-vae from dist/index.js and tfjs ${R.versions.tfjs} in the same page; builds available: ${R.browser.availableBuilds.join(', ')}; ` +
          `tfjs-wasm binary ${R.browser.tfjsWasmBinary ?? '?'} with ${R.browser.tfjsWasmThreads ?? '?'} thread(s). Figures are in the training-step table.`,
        '',
      );
      if (R.browser.errors?.length)
        out.push(`Errors: ${R.browser.errors.map((e) => e.split('\n')[0]).join('; ')}`, '');
    } else {
      out.push(`**Not measured:** ${R.browser.note}`, '');
    }
  }

  // ---- checks
  out.push(...checksSection(R));

  if (R.notes.length) out.push('## Notes', '', ...R.notes.map((n) => `- ${n}`), '');
  out.push(
    'Sections (seconds; 1-minute load average at the start): ' +
      Object.entries(R.sections)
        .map(([k, v]) => `${k} ${fmt(v)} s (${R.sectionLoad?.[k]?.split(' ')[0] ?? '?'})`)
        .join(', ') +
      '.',
    '',
  );
  return out.join('\n');
}

/** The "Same model, same loss" section (bench/run.mjs stops before timing when a difference exceeds LOSS_RTOL). */
export function checksSection(R) {
  if (!R.checks.length) return [];
  const { ref, rows } = lossDiffs(R.checks);
  const diff = new Map(rows.map((r) => [r.check, r.maxRel]));
  return [
    '## Same model, same loss',
    '',
    `Deterministic check (batch 32, ε = 0, identical initial parameters and inputs): loss at init and before Adam steps 2–4, ` +
      `and the largest relative difference to ${label(ref.system, ref.env)} (the bench stops, before timing, when one exceeds ${LOSS_RTOL}).`,
    '',
    table(
      ['system', 'losses', 'max rel. diff'],
      [...R.checks]
        .sort((a, b) => rank(a) - rank(b))
        .map((c) => [
          label(c.system, c.env),
          c.lossPerStep.map((v) => v.toFixed(2)).join(', '),
          c === ref ? '(reference)' : diff.get(c).toExponential(1),
        ]),
    ),
    '',
  ];
}

// ---------------------------------------------------------------- SVG chart
const COLORS = {
  'wasm-vae-relaxed/node': '#1b5e20',
  'wasm-vae-simd/node': '#43a047',
  'wasm-vae-scalar/node': '#a5d6a7',
  'wasm-vae-relaxed/chromium': '#0d47a1',
  'wasm-vae-simd/chromium': '#42a5f5',
  'wasm-vae-scalar/chromium': '#bbdefb',
  'tfjs-wasm/node': '#e65100',
  'tfjs-cpu/node': '#ffb74d',
  'tfjs-wasm/chromium': '#ad1457',
  'tfjs-cpu/chromium': '#f48fb1',
  'pytorch/native': '#424242',
};
/** The Vega-Lite spec of the chart: grouped bars (log scale) with p10–p90 rules, one group per batch size. */
export function chartSpec(R) {
  const series = stepSeries(R);
  const names = series.map((s) => label(s.system, s.env));
  const values = R.step
    .filter((r) => series.some((s) => s.system === r.system && s.env === r.env))
    .map((r) => {
      const v = r.samplesPerSec;
      return {
        batch: `batch ${r.batch}`,
        system: label(r.system, r.env),
        median: v.median,
        p10: v.p10 ?? v.median,
        p90: v.p90 ?? v.median,
        text: v.median >= 1000 ? `${(v.median / 1000).toFixed(1)}k` : String(Math.round(v.median)),
      };
    });
  const x = {
    field: 'batch',
    type: 'nominal',
    title: null,
    sort: R.config.batches.map((b) => `batch ${b}`),
    axis: { labelAngle: 0, labelFontWeight: 'bold' },
  };
  const xOffset = { field: 'system', type: 'nominal', sort: names };
  // axis from the largest 1-2-5 value below min/1.5 (so the shortest bar stays visible) to the next decade
  const vals = values.flatMap((v) => [v.p10, v.p90]).filter((v) => v > 0);
  const floor125 = (v) => {
    const d = 10 ** Math.floor(Math.log10(v));
    return [5, 2, 1].map((m) => m * d).find((x) => x <= v) ?? d;
  };
  const lo = floor125(Math.min(...vals, 1000) / 1.5),
    hi = 10 ** Math.ceil(Math.log10(Math.max(...vals, 1000)));
  const yScale = { type: 'log', domain: [lo, hi], clamp: true };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Training step, 784-400-20 VAE, Adam: samples/s (log scale, median with p10–p90)',
      subtitle: `${R.machine.cpu}, 1 thread · ${R.date.slice(0, 10)} · ${R.mode} run`,
      anchor: 'start',
    },
    width: 660,
    height: 400,
    background: 'white',
    data: { values },
    encoding: { x, xOffset },
    layer: [
      {
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y: { field: 'median', type: 'quantitative', title: 'samples / s', scale: yScale },
          y2: { datum: lo },
          color: {
            field: 'system',
            type: 'nominal',
            title: null,
            sort: names,
            legend: { labelLimit: 320 },
            scale: { domain: names, range: series.map((s) => COLORS[`${s.system}/${s.env}`] ?? '#888') },
          },
        },
      },
      {
        mark: { type: 'rule', color: 'black' },
        encoding: { y: { field: 'p10', type: 'quantitative', scale: yScale }, y2: { field: 'p90' } },
      },
      {
        mark: { type: 'text', angle: 270, align: 'left', dx: 4, fontSize: 9, color: '#333' },
        encoding: { y: { field: 'p90', type: 'quantitative', scale: yScale }, text: { field: 'text' } },
      },
    ],
  };
}

/** The chart as an SVG document, rendered by src/cli/plot.ts (the one charting module; needs dist/). */
export async function svgChart(R) {
  const { renderSvg } = await import('../../dist/cli/plot.js');
  return renderSvg(chartSpec(R));
}
