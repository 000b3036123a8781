// Runs `npm run build` only when an output is missing or older than what it is built from, so
// `npm start` and `prepare` cost nothing on an up-to-date tree. Three groups, each compared on its
// own (build-wasm.mjs leaves an up-to-date .wasm untouched, so one newest-input-against-oldest-output
// test over everything would never settle):
//   wasm    assembly/*, asconfig.json           → build/<target>.wasm for every asconfig target
//   tsc     src/**/*.ts, tsconfig.json          → dist/**/*.js and .d.ts for every source
//   inline  src/**/*.ts, build/*.wasm, script   → dist/inline/wasm-vae.{js,d.ts}
// --clean (prepack): removes dist/ and any build/*.wasm that is not an asconfig target, then
// builds, so a tarball never ships outputs of deleted sources. build/ itself is kept: compiling
// the six wasm builds takes ~35 s and build-wasm.mjs already rebuilds every stale one.
// Usage: node scripts/build-if-stale.mjs [--clean]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const clean = process.argv.includes('--clean');
const config = JSON.parse(readFileSync(join(root, 'asconfig.json'), 'utf8'));
const wasmOut = Object.values(config.targets).map((t) => join(root, t.outFile));

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}
const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : -Infinity);

function staleGroup(inputs, outputs) {
  const newestIn = Math.max(...inputs.map(mtime));
  const oldestOut = Math.min(...outputs.map(mtime));
  return oldestOut < newestIn ? outputs.find((f) => mtime(f) < newestIn) : undefined;
}

function stale() {
  const src = files(join(root, 'src')).filter((f) => f.endsWith('.ts'));
  const dist = src.flatMap((f) => {
    const base = join(root, 'dist', relative(join(root, 'src'), f)).replace(/\.ts$/, '');
    return [`${base}.js`, `${base}.d.ts`];
  });
  const inline = ['wasm-vae.js', 'wasm-vae.d.ts'].map((f) => join(root, 'dist', 'inline', f));
  return (
    staleGroup([...files(join(root, 'assembly')), join(root, 'asconfig.json')], wasmOut) ??
    staleGroup([...src, join(root, 'tsconfig.json')], dist) ??
    staleGroup([...src, ...wasmOut, join(root, 'scripts', 'build-inline.mjs')], inline)
  );
}

if (clean) {
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  if (existsSync(join(root, 'build')))
    for (const f of readdirSync(join(root, 'build')))
      if (f.endsWith('.wasm') && !wasmOut.includes(join(root, 'build', f))) rmSync(join(root, 'build', f));
}
const why = stale();
if (why === undefined) {
  console.log('build: up to date');
} else {
  console.log(`build: ${relative(root, why)} is missing or stale`);
  const r = spawnSync('npm', ['run', 'build'], {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  process.exit(r.status ?? 1);
}
