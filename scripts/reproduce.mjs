// npm run reproduce -- <name> [options]: re-runs a published VAE experiment with wasm-vae's public
// API and writes what it measured next to the publication's numbers:
//   bench/results/reproduce-<name>.json  config, protocol and deviations, seed, machine, date, wall
//                                        time, samples/s, every measured point, the model file saved,
//                                        and cutShort + cutShortReason when a budget stopped it
//   bench/results/reproduce-<name>.md    the table (ours beside the paper's, what ran, for how long)
//   bench/results/reproduce-<name>.svg   the plot (Vega-Lite through dist/cli/plot.js)
// and the trained model to out/reproduce/reproduce-<name>*.safetensors.
//
// Names: pytorch-example, pyro, kw-fig2, iwae, keras-conv (scripts/reproduce/<name>.mjs holds each protocol).
// Common options: --quick (a small version that runs in well under a minute; the tests run it),
// --seed N, --threads auto|N, --time-budget SECONDS (stop training then, evaluate, and say so),
// --out DIR (default bench/results), --model-dir DIR (default out/reproduce), --quiet (no bar),
// --render (rewrite the .md and .svg from an existing JSON without running), --readme (also put the
// table into README.md between <!-- reproduce:<name> --> and <!-- /reproduce:<name> -->), --resume (continue
// from the checkpoint a stopped run left in --model-dir, where the name supports it: kw-fig2, iwae, keras-conv), --help.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { saveModel } from '../dist/node.js';
import { writeChart } from '../dist/cli/plot.js';
import { Budget, Progress, machine, runLine, writeText } from './reproduce/common.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NAMES = ['pytorch-example', 'pyro', 'kw-fig2', 'iwae', 'keras-conv'];

const COMMON = {
  quick: { type: 'boolean', default: false },
  seed: { type: 'string' },
  threads: { type: 'string', default: 'auto' },
  'time-budget': { type: 'string' },
  out: { type: 'string' },
  'model-dir': { type: 'string' },
  quiet: { type: 'boolean', default: false },
  render: { type: 'boolean', default: false },
  readme: { type: 'boolean', default: false },
  resume: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

function fail(msg) {
  process.stderr.write(`reproduce: ${msg}\n`);
  process.exit(2);
}

const name = process.argv[2];
if (!name || name === '--help' || name === '-h' || !NAMES.includes(name)) {
  const head = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const usage = head
    .filter((l) => l.startsWith('//'))
    .map((l) => l.slice(3))
    .join('\n');
  if (name && name !== '--help' && name !== '-h')
    fail(`unknown name ${JSON.stringify(name)}; one of ${NAMES.join(', ')}`);
  process.stdout.write(usage + '\n');
  process.exit(0);
}
const mod = await import(`./reproduce/${name}.mjs`);

let values;
try {
  ({ values } = parseArgs({
    args: process.argv.slice(3),
    options: { ...COMMON, ...mod.options },
    strict: true,
  }));
} catch (e) {
  fail(
    `${e.message}\n(options of ${name}: ${Object.keys({ ...COMMON, ...mod.options })
      .map((k) => `--${k}`)
      .join(' ')})`,
  );
}
if (values.help) {
  process.stdout.write(`${name}: ${mod.title}\n${mod.usage}\n`);
  process.exit(0);
}

/** A positive number option (or its default); a bad value ends the run before anything is loaded. */
export function numberOption(v, flag, dflt, { integer = false, min = 0 } = {}) {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= min || (integer && !Number.isSafeInteger(n)))
    fail(`--${flag} must be a ${integer ? 'positive integer' : 'positive number'}, got ${JSON.stringify(v)}`);
  return n;
}

const out = resolve(values.out ?? join(root, 'bench/results'));
const files = {
  json: join(out, `reproduce-${name}.json`),
  md: join(out, `reproduce-${name}.md`),
  svg: join(out, `reproduce-${name}.svg`),
};

/** Writes the markdown table and the plots of a result (also alone, with --render). */
async function render(result) {
  const { markdown, charts } = mod.report(result);
  const text = [
    `### ${result.title}`,
    '',
    markdown.trim(),
    '',
    runLine(result),
    '',
    ...charts.map((c, i) => `![${c.alt}](reproduce-${name}${i === 0 ? '' : `-${i + 1}`}.svg)`),
    '',
  ].join('\n');
  await writeText(files.md, text);
  for (const [i, c] of charts.entries())
    await writeChart(i === 0 ? files.svg : files.svg.replace(/\.svg$/, `-${i + 1}.svg`), c.spec);
  if (values.readme) {
    const readme = join(root, 'README.md'),
      open = `<!-- reproduce:${name} -->`,
      close = `<!-- /reproduce:${name} -->`;
    const old = readFileSync(readme, 'utf8');
    const a = old.indexOf(open),
      b = old.indexOf(close);
    if (a < 0 || b < a) fail(`--readme: README.md has no ${open} … ${close} block`);
    const body = text
      .replace(/^### .*\n\n/, '')
      .replaceAll(`](reproduce-${name}`, `](${relative(root, out)}/reproduce-${name}`);
    await writeText(readme, `${old.slice(0, a + open.length)}\n${body.trim()}\n${old.slice(b)}`);
  }
  return text;
}

if (values.render) {
  if (!existsSync(files.json)) fail(`--render needs ${files.json}`);
  process.stdout.write(await render(JSON.parse(readFileSync(files.json, 'utf8'))));
  process.exit(0);
}

const threads =
  values.threads === 'auto' ? 'auto' : numberOption(values.threads, 'threads', 1, { integer: true });
const seed =
  values.seed === undefined ? undefined : numberOption(values.seed, 'seed', 0, { integer: true, min: -1 });
const budget = new Budget(numberOption(values['time-budget'], 'time-budget', undefined));
const modelDir = resolve(values['model-dir'] ?? join(root, 'out/reproduce'));
const t0 = performance.now();
const machineAtStart = machine();

const ctx = {
  root,
  quick: values.quick,
  args: values,
  threads,
  seed,
  budget,
  number: numberOption,
  fail,
  /** A bar over `total` training samples. */
  progress: (total, label = name) => new Progress({ total, label, quiet: values.quiet }),
  resume: values.resume,
  /** Where this run keeps a checkpoint (a trainer file and its sidecar JSON) for --resume. */
  checkpoint: (suffix = '') =>
    join(modelDir, `reproduce-${name}${values.quick ? '-quick' : ''}${suffix}.checkpoint`),
  /**
   * With --resume, the sidecar JSON of the checkpoint at `ckpt` ({ planned, state }), which must
   * have been made with the same `planned` options; without it, null.
   */
  resumed(ckpt, planned) {
    if (!values.resume) return null;
    if (!existsSync(`${ckpt}.json`)) fail(`--resume: no checkpoint at ${ckpt}.json`);
    const saved = JSON.parse(readFileSync(`${ckpt}.json`, 'utf8'));
    if (JSON.stringify(saved.planned) !== JSON.stringify(planned))
      fail(
        `--resume: the checkpoint ${ckpt}.json was made with other options (${JSON.stringify(saved.planned)})`,
      );
    return saved;
  },
  /** Saves a model next to the others of this run; returns where (relative to the repo) and its size. */
  async saveModel(what, suffix = '') {
    const path = join(modelDir, `reproduce-${name}${values.quick ? '-quick' : ''}${suffix}.safetensors`);
    await writeText(path, ''); // makes the directory
    await saveModel(path, what);
    const bytes = readFileSync(path).length;
    return { path: relative(root, path) || path, bytes };
  },
};

const measured = await mod.run(ctx);
budget.dispose();
const reasons = [...(measured.cutShortReasons ?? [])];
if (values.quick) reasons.unshift('--quick: a small subset of the protocol, to test the harness');
const result = {
  name,
  title: mod.title,
  date: new Date().toISOString(),
  quick: values.quick,
  cutShort: reasons.length > 0,
  cutShortReason: reasons.length ? reasons.join('; ') : null,
  command: `npm run reproduce -- ${process.argv.slice(2).join(' ')}`,
  ...Object.fromEntries(Object.entries(measured).filter(([k]) => k !== 'cutShortReasons')),
  machine: machineAtStart,
  wallSeconds: (performance.now() - t0) / 1000,
};
result.samplesPerSec = result.trainSeconds > 0 ? result.samplesTrained / result.trainSeconds : 0;
await writeText(files.json, JSON.stringify(result, null, 2) + '\n');
process.stdout.write(
  (await render(result)) + `\nwrote ${relative(root, files.json) || files.json}, .md, .svg\n`,
);
