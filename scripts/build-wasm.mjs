// Compiles assembly/ into every target of asconfig.json (scalar, SIMD, relaxed SIMD, each with a
// non-shared and a shared imported memory). Skips targets whose output is newer than every source.
// Usage: node scripts/build-wasm.mjs [--force] [target …]
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync, existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const config = JSON.parse(readFileSync(join(root, 'asconfig.json'), 'utf8'));
const args = process.argv.slice(2);
const force = args.includes('--force');
const wanted = args.filter((a) => !a.startsWith('--'));
const targets = wanted.length ? wanted : Object.keys(config.targets);
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');

const sources = [
  join(root, 'asconfig.json'),
  ...readdirSync(join(root, 'assembly')).map((f) => join(root, 'assembly', f)),
];
const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
mkdirSync(join(root, 'build'), { recursive: true });

function build(target) {
  const out = join(root, config.targets[target].outFile);
  if (!force && existsSync(out) && statSync(out).mtimeMs > newest)
    return Promise.resolve(`${target}: up to date`);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [asc, '--target', target], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('close', (code) => {
      // AS112 ("exchange of v128 values") is about JS interop of v128, which we never do
      const msgs = err.split('\n').filter((l) => /ERROR|FAILURE/.test(l));
      if (code !== 0) reject(new Error(`asc --target ${target} failed:\n${err}`));
      else resolve(`${target}: ${statSync(out).size} bytes${msgs.length ? ' ' + msgs.join(' ') : ''}`);
    });
  });
}

// two at a time: the machines this runs on have two cores
const queue = [...targets];
const results = [];
async function worker() {
  while (queue.length) results.push(await build(queue.shift()));
}
await Promise.all([worker(), worker()]);
for (const r of results.sort()) console.log(`wasm ${r}`);
