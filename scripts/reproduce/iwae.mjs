// iwae: Burda, Grosse & Salakhutdinov, Importance Weighted Autoencoders (ICLR 2016), Table 1, MNIST,
// one stochastic layer: 784-200-200-50 tanh encoder, mirrored decoder, Bernoulli, Glorot init, Adam
// (β1 0.9, β2 0.999, ε 1e-4), minibatch 20, 3^i passes at lr 1e-3·10^(−i/7) for i = 0…7 (3,280
// passes), MNIST binarized dynamically; test NLL = −mean L_5000 over the 10,000 test images and the
// active units (Cov_x E_q[u] > 10⁻²). --k and --objective give the table's other cells.
import { VAE, Trainer, loadMnist } from '../../dist/node.js';
import { lineChart } from '../../dist/cli/plot.js';
import { readFileSync } from 'node:fs';
import { Budget, duration, fmt, headRows, int, writeText } from './common.mjs';

export const title = 'Burda et al. (2016), IWAE Table 1 (MNIST, one stochastic layer)';
export const usage =
  '--stages N (schedule stages 0…N−1; default 8 = all 3,280 passes) --passes N (at most this many passes) ' +
  '--k N (samples per datapoint; default 1) --objective elbo|iwae (default elbo: the VAE rows) ' +
  '--eval-k N (default 5000) --eval-rows N (test images; default 10000) --eval-budget SECONDS (stop the L_k evaluation; --resume continues it) --eval-threads auto|N (default auto)';
export const options = {
  stages: { type: 'string' },
  passes: { type: 'string' },
  k: { type: 'string' },
  objective: { type: 'string' },
  'eval-k': { type: 'string' },
  'eval-rows': { type: 'string' },
  'eval-budget': { type: 'string' },
  'eval-threads': { type: 'string' },
};

const STAGES = 8;
/** Table 1, one stochastic layer: test NLL (nats) and active units, by objective and k. */
const PAPER = {
  elbo: {
    1: { nll: 86.76, activeUnits: 19 },
    5: { nll: 86.47, activeUnits: 20 },
    50: { nll: 86.35, activeUnits: 20 },
  },
  iwae: {
    1: { nll: 86.76, activeUnits: 19 },
    5: { nll: 85.54, activeUnits: 22 },
    50: { nll: 84.78, activeUnits: 25 },
  },
};
/** Passes in stages 0…s−1: Σ 3^i. */
const passesIn = (s) => (3 ** s - 1) / 2;

export async function run(ctx) {
  const stages = ctx.number(ctx.args.stages, 'stages', ctx.quick ? 3 : STAGES, { integer: true });
  if (stages > STAGES) ctx.fail(`--stages is at most ${STAGES}`);
  const passes = Math.min(
    passesIn(stages),
    ctx.number(ctx.args.passes, 'passes', Infinity, { integer: true }),
  );
  const k = ctx.number(ctx.args.k, 'k', 1, { integer: true });
  const objective = ctx.args.objective ?? 'elbo';
  if (!['elbo', 'iwae'].includes(objective))
    ctx.fail(`--objective must be elbo or iwae, got ${JSON.stringify(objective)}`);
  const evalK = ctx.number(ctx.args['eval-k'], 'eval-k', ctx.quick ? 200 : 5000, { integer: true });
  const evalRows = ctx.number(ctx.args['eval-rows'], 'eval-rows', ctx.quick ? 200 : 10_000, {
    integer: true,
  });
  const seed = ctx.seed ?? 0;
  const mnist = await loadMnist();
  const train = ctx.quick ? headRows(mnist.train, 2_000) : mnist.train;
  const test = headRows(mnist.test, evalRows);
  const model = {
    inputDim: 784,
    encoder: [200, 200],
    latentDim: 50,
    activation: 'tanh',
    likelihood: 'bernoulli',
    init: 'glorot',
    binarization: 'dynamic',
    seed,
  };
  const trainerOptions = {
    optimizer: { name: 'adam', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-4 },
    batchSize: 20,
    samples: k,
    objective,
    reduction: 'mean',
    lrSchedule: { type: 'iwae' },
  };
  // checkpoint: the trainer (Trainer.save: weights, Adam state, RNG) after every pass, and a sidecar
  // JSON with what was measured so far; --resume continues from it bit-exactly
  const ckpt = ctx.checkpoint(objective === 'elbo' && k === 1 ? '' : `-${objective}-k${k}`);
  const planned = { model, trainerOptions, trainRows: train.rows, testRows: test.rows, evalK };
  const saved = ctx.resumed(ckpt, planned);
  const trainer = saved
    ? await Trainer.resume(readFileSync(`${ckpt}.safetensors`), { threads: ctx.threads })
    : new Trainer(await VAE.create({ ...model, threads: ctx.threads }), trainerOptions);
  const vae = trainer.vae;
  // the test set binarized once, with the model's seed (as the evaluation sets of the paper's code)
  const testBin = vae.binarizeOnce(vae.matrix(test.x));
  const st = saved?.state ?? {
    stageEnds: [],
    evalSeconds: 0,
    trainSeconds: 0,
    samplesTrained: 0,
    ll: { perRow: [], seconds: 0 },
  };
  const writeCheckpoint = async () => {
    await writeText(`${ckpt}.safetensors`, trainer.save());
    await writeText(`${ckpt}.json`, JSON.stringify({ planned, state: st }) + '\n');
  };
  const startPass = trainer.epoch;
  const bar = ctx.progress(Math.max(0, passes - startPass) * train.rows, 'iwae');
  let stopReason = 'completed';
  if (passes > startPass) {
    st.ll = { perRow: [], seconds: 0 }; // an evaluation of an earlier model no longer counts
    const history = await trainer.fit(train.x, {
      epochs: passes - startPass,
      signal: ctx.budget.signal,
      onBatchEnd: (b) => {
        if (b.batch % 50 === 0)
          bar.update(
            (b.epoch - 1 - startPass) * train.rows + b.batch * 20,
            `pass ${b.epoch}/${passes}, lr ${b.lr.toExponential(2)}`,
            b.samplesPerSec,
          );
      },
      onEpochEnd: async (r) => {
        st.trainSeconds += r.seconds;
        st.samplesTrained += train.rows;
        if ([...Array(STAGES + 1).keys()].some((s) => passesIn(s) === r.epoch) || r.epoch === passes) {
          const t = performance.now();
          const v = vae.evaluate(testBin, { samples: 1 });
          st.evalSeconds += (performance.now() - t) / 1000;
          const stage = Math.round(Math.log(2 * r.epoch + 1) / Math.log(3)) - 1;
          st.stageEnds.push({
            stage,
            pass: r.epoch,
            lr: r.lr,
            trainLoss: r.loss,
            testElbo: v.elbo,
            testKl: v.kl,
          });
          bar.log(
            `  pass ${r.epoch} (stage ${stage}, lr ${r.lr.toExponential(3)}): train loss ${fmt(r.loss)}, test ELBO ${fmt(v.elbo)}`,
          );
        }
        await writeCheckpoint();
      },
    });
    stopReason = history.stopReason;
  }
  bar.stop();
  const trained = trainer.epoch;
  const perPass = trainer.history.epochs.map((r) => ({
    pass: r.epoch,
    lr: r.lr,
    trainLoss: r.loss,
    seconds: r.seconds,
  }));
  const stageEnds = st.stageEnds;

  // the paper's evaluation: −mean L_k over the test images, k = 5000, in chunks of images, each
  // with its own seed (so a resumed evaluation gives the same numbers), checkpointed after each
  const chunk = 50;
  const per = Float64Array.from(st.ll.perRow);
  let llDone = per.length;
  const perAll = new Float64Array(test.rows);
  perAll.set(per);
  // --time-budget stops the training; the evaluation of the model it left has its own --eval-budget
  const evalBudget = new Budget(ctx.number(ctx.args['eval-budget'], 'eval-budget', undefined));
  // the evaluation may run on other threads than the training (batch 20 trains best on one thread
  // of a busy machine; k = 5000 samples per image fill both): the same weights, loaded again
  const et = ctx.args['eval-threads'] ?? 'auto';
  const evalThreads = et === 'auto' ? 'auto' : ctx.number(et, 'eval-threads', 1, { integer: true });
  const ev = evalThreads === ctx.threads ? vae : await VAE.load(vae.save(), { threads: evalThreads });
  {
    const evalBar = ctx.progress((test.rows - llDone) * evalK, `L_${evalK}`);
    const t0 = performance.now();
    const s0 = st.ll.seconds;
    for (let r = llDone; r < test.rows; r += chunk) {
      if (evalBudget.exceeded) break;
      const n = Math.min(chunk, test.rows - r);
      const { perRow } = ev.logLikelihood(
        { data: testBin.data.subarray(r * 784, (r + n) * 784), rows: n, cols: 784 },
        { k: evalK, seed: seed * 2 ** 20 + r / chunk },
      );
      perAll.set(perRow, r);
      llDone = r + n;
      st.ll.perRow = Array.from(perAll.subarray(0, llDone));
      st.ll.seconds = s0 + (performance.now() - t0) / 1000;
      await writeText(`${ckpt}.json`, JSON.stringify({ planned, state: st }) + '\n');
      evalBar.update(
        (llDone - per.length) * evalK,
        `${llDone}/${test.rows} images`,
        ((llDone - per.length) * evalK) / ((performance.now() - t0) / 1000),
      );
    }
    evalBar.stop();
    evalBudget.dispose();
  }
  const logLikelihoodThreads = ev.threads;
  if (ev !== vae) ev.dispose();
  const llSeconds = st.ll.seconds;
  const evalled = perAll.subarray(0, llDone);
  let mean = 0;
  for (const v of evalled) mean += v / evalled.length;
  let sd = 0;
  for (const v of evalled) sd += (v - mean) ** 2 / Math.max(1, evalled.length - 1);
  const au = vae.activeUnits(testBin);
  const elboK1 = vae.evaluate(testBin, { samples: 1 });

  const reasons = [];
  if (stopReason === 'aborted' || trained < passes)
    reasons.push(`${ctx.budget.reason} after ${trained} of ${passes} passes`);
  if (llDone < test.rows)
    reasons.push(
      `L_${evalK} of ${llDone} of ${test.rows} test images (the --eval-budget of ${evalBudget.seconds} s ran out)`,
    );
  if (passes < passesIn(STAGES))
    reasons.push(`${passes} of the schedule's ${passesIn(STAGES)} passes (stages 0–${stagesDone(passes)})`);
  if (evalK < 5000) reasons.push(`L_${evalK} instead of L_5000`);
  if (test.rows < 10_000) reasons.push(`${test.rows} of the 10,000 test images`);
  const paper = PAPER[objective][k] ?? null;
  const nll = -mean;
  const modelFile = await ctx.saveModel(vae, objective === 'elbo' && k === 1 ? '' : `-${objective}-k${k}`);
  const result = {
    protocol: {
      source: 'Burda, Grosse & Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016, §5 and Table 1',
      model:
        '784-200-200-50 tanh encoder (Gaussian q), 50-200-200-784 tanh decoder, Bernoulli likelihood, Glorot init',
      optimizer: 'Adam β1 0.9, β2 0.999, ε 1e-4',
      batchSize: 20,
      schedule: '3^i passes at lr 1e-3·10^(−i/7), i = 0…7 (3,280 passes)',
      data: 'MNIST, binarized dynamically (every pixel a Bernoulli draw of its grey level each time it is seen)',
      evaluation: 'test NLL = −mean L_5000 over the 10,000 test images; active units: Cov_x E_q[u] > 10⁻²',
      cell: `${objective === 'elbo' ? 'VAE' : 'IWAE'}, k = ${k}`,
      goal:
        objective === 'elbo' && k === 1 ? '≤ 86.76 nats with ~19 active units on the full schedule' : null,
    },
    deviations: [
      "the minibatch loss is the mean over the batch ('mean' reduction; with Adam's ε = 1e-4 the scale matters slightly; the paper's code averages too)",
      'the test images are binarized once with the model’s seed (a stochastic binarization, as the training data’s)',
      `L_${evalK} runs in chunks of ${chunk} images, each logLikelihood call with its own seed (model seed · 2^20 + chunk index)`,
    ],
    config: {
      model,
      trainer: trainerOptions,
      stages,
      passes,
      evalK,
      trainRows: train.rows,
      testRows: test.rows,
    },
    seed,
    build: vae.build,
    threads: vae.threads,
    units: 'nats per image',
    points: stageEnds,
    perPass,
    paper: { table1: PAPER, cell: paper },
    summary: {
      passesTrained: trained,
      testNll: nll,
      testNllStdErr: Math.sqrt(sd / Math.max(1, evalled.length)),
      testImagesEvaluated: llDone,
      evalK,
      logLikelihoodSeconds: llSeconds,
      logLikelihoodImagesPerSec: llDone / llSeconds,
      logLikelihoodThreads,
      activeUnits: au.count,
      activeUnitVariances: Array.from(au.variances),
      testElboK1: elboK1.elbo,
      paperNll: paper?.nll ?? null,
      paperActiveUnits: paper?.activeUnits ?? null,
      nllMinusPaper: paper ? nll - paper.nll : null,
      goalMet:
        paper && passes === passesIn(STAGES) && evalK === 5000 && test.rows === 10_000
          ? nll <= paper.nll
          : null,
      evalSeconds: st.evalSeconds,
      resumedAtPass: saved ? startPass : null,
    },
    modelFile,
    samplesTrained: st.samplesTrained,
    trainSeconds: st.trainSeconds,
    checkpoint: `${ckpt}.{safetensors,json}`,
    cutShortReasons: reasons,
  };
  vae.dispose();
  return result;
}

/** The last schedule stage a prefix of `passes` passes completes (or enters). */
function stagesDone(passes) {
  let s = 0;
  while (passesIn(s + 1) < passes) s++;
  return s;
}

export function report(r) {
  const s = r.summary,
    c = r.config;
  const cell = r.protocol.cell;
  const lines = [
    `Burda et al.'s Table 1 protocol (${cell}): 784-200-200-50 tanh, Bernoulli, Glorot init, Adam (ε 1e-4), batch 20, the 3^i-pass schedule at 1e-3·10^(−i/7), dynamic binarization; ${c.passes} passes (${s.passesTrained} trained) of ${int(c.trainRows)} training images; test NLL = −mean L_${s.evalK} over ${int(s.testImagesEvaluated)} test images.`,
    '',
    '| | passes | test NLL (nats) | active units | test −ELBO (k = 1) |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| wasm-vae | ${s.passesTrained} | ${fmt(s.testNll)} ± ${fmt(s.testNllStdErr)} | ${s.activeUnits} | ${fmt(-s.testElboK1)} |`,
    `| paper | 3280 | ${fmt(s.paperNll)} | ${s.paperActiveUnits ?? '—'} | — |`,
    '',
    `L_${s.evalK} over ${int(s.testImagesEvaluated)} images took ${duration(s.logLikelihoodSeconds)} (${fmt(s.logLikelihoodImagesPerSec, 1)} images/s, ${s.logLikelihoodThreads} thread${s.logLikelihoodThreads === 1 ? '' : 's'}). ` +
      (s.goalMet === null
        ? `The goal (${r.protocol.goal ?? 'the paper’s cell'}) needs the full schedule and L_5000 on all 10,000 test images; this run is ${s.nllMinusPaper === null ? 'not comparable' : `${fmt(s.nllMinusPaper)} nats ${s.nllMinusPaper > 0 ? 'above' : 'below'} the paper's figure`} after ${s.passesTrained} of 3,280 passes.`
        : `Goal: ${s.goalMet ? '**met**' : '**missed**'} (${s.nllMinusPaper >= 0 ? '+' : ''}${fmt(s.nllMinusPaper)} nats against the paper).`),
    '',
    'Test −ELBO (k = 1) at the end of each schedule stage:',
    '',
    '| stage | pass | lr | train loss | test −ELBO |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...r.points.map(
      (p) =>
        `| ${p.stage} | ${p.pass} | ${p.lr.toExponential(3)} | ${fmt(p.trainLoss)} | ${fmt(-p.testElbo)} |`,
    ),
  ];
  const series = [
    ...r.perPass.map((p) => ({ x: p.pass, y: p.trainLoss, series: 'train loss (per pass)' })),
    ...r.points.map((p) => ({ x: p.pass, y: -p.testElbo, series: 'test −ELBO (stage ends)' })),
    ...(s.paperNll === null
      ? []
      : [1, 3280].map((x) => ({ x, y: s.paperNll, series: `paper test NLL (${fmt(s.paperNll)})` }))),
    { x: Math.max(1, s.passesTrained), y: s.testNll, series: `wasm-vae test NLL (L_${s.evalK})` },
  ];
  return {
    markdown: lines.join('\n'),
    charts: [
      {
        alt: 'training loss and test −ELBO per pass, with the test NLL',
        spec: lineChart(series, {
          title: `IWAE Table 1 (${cell}) on wasm-vae`,
          xTitle: 'passes over the training set',
          yTitle: 'nats per image',
          logX: true,
        }),
      },
    ],
  };
}
