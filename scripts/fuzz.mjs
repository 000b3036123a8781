// Runs the fuzz suite (test/fuzz) longer than npm test does: every property with N cases, with a
// random seed (printed, so a failure can be replayed) or the one given.
// Usage: npm run fuzz -- [--runs N] [--seed S] [other vitest arguments, e.g. -t 'VAE.load']
// A failing property prints its counterexample and fast-check's { seed, path } to replay it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let runs = 20000,
  seed = randomInt(2 ** 31 - 1);
const rest = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const [flag, inline] = a.startsWith('--') && a.includes('=') ? a.split(/=(.*)/s) : [a, undefined];
  if (flag === '--runs' || flag === '--seed') {
    const v = Number(inline ?? args[++i]);
    if (!Number.isSafeInteger(v) || v < (flag === '--runs' ? 1 : -(2 ** 31)) || v >= 2 ** 31) {
      console.error(`${flag} needs an integer${flag === '--runs' ? ' ≥ 1' : ''}, got ${inline ?? args[i]}`);
      process.exit(2);
    }
    if (flag === '--runs') runs = v;
    else seed = v;
  } else if (flag === '--help' || flag === '-h') {
    console.log("usage: npm run fuzz -- [--runs N] [--seed S] [vitest arguments, e.g. -t 'VAE.load']");
    process.exit(0);
  } else rest.push(a);
}
if (!existsSync(join(root, 'build', 'simd.wasm'))) {
  console.error('build/*.wasm is missing: run npm run build:wasm (or npm test) first');
  process.exit(2);
}
console.log(
  `[fuzz] ${runs} cases per property, seed ${seed} (replay: npm run fuzz -- --runs ${runs} --seed ${seed})`,
);
const r = spawnSync(
  process.execPath,
  [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/fuzz', '--testTimeout=0', ...rest],
  { cwd: root, stdio: 'inherit', env: { ...process.env, FUZZ_RUNS: String(runs), FUZZ_SEED: String(seed) } },
);
process.exit(r.status ?? 1);
