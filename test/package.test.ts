// The published package: what `npm pack` puts in the tarball, that prepack builds it from a tree
// without dist/ (and drops leftovers of deleted sources), and that the tarball, installed into a
// fresh project with `npm ci --offline` (no network: a lockfile made from this repo's, whose
// tarballs `npm ci` left in the npm cache), imports, trains, runs its bin and type-checks under
// moduleResolution NodeNext and bundler.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const sh = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const BUILDS = ['relaxed', 'simd', 'scalar'].flatMap((b) => [b, `${b}-shared`]);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

// dist/ of the working tree is built by pretest; npm's own scripts are not run again here
const REQUIRED = [
  'package.json',
  'README.md',
  'LICENSE',
  'dist/node.js',
  'dist/node.d.ts',
  'dist/index.js',
  'dist/index.d.ts',
  'dist/vae.d.ts',
  'dist/trainer.d.ts',
  'dist/inline/wasm-vae.js',
  'dist/inline/wasm-vae.d.ts',
  'dist/worker/worker.js',
  'dist/worker/worker.d.ts',
  'dist/worker/trainer.d.ts',
  'dist/cli/main.js',
  ...BUILDS.map((b) => `build/${b}.wasm`),
];

type PackResult = { filename: string; files: { path: string }[] }[];

describe('npm pack', () => {
  it('the file list has the entry points, their types, the six wasm builds and the LICENSE', async () => {
    const { stdout } = await sh(NPM, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
    const files = (JSON.parse(stdout) as PackResult)[0].files.map((f) => f.path);
    for (const f of REQUIRED) expect(files, f).toContain(f);
    expect(files.filter((f) => f.endsWith('.wasm')).sort()).toEqual(
      BUILDS.map((b) => `build/${b}.wasm`).sort(),
    );
    expect(files.some((f) => f.startsWith('node_modules/') || f.startsWith('test/'))).toBe(false);
    // the bin and every file the exports map names are in the tarball
    expect(pkg.bin).toEqual({ 'wasm-vae': 'dist/cli/main.js' });
    expect(readFileSync(join(ROOT, 'dist/cli/main.js'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(
      true,
    );
    const targets = JSON.stringify(pkg.exports).match(/\.\/dist\/[^"]+/g)!;
    for (const t of targets) expect(files, t).toContain(t.slice(2));
  });
});

describe('the packed tarball, installed', () => {
  let tmp: string;
  let proj: string;
  let packed: string[];

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'wasm-vae-pkg-'));
    // a copy of the tree without dist/ but with a leftover of a deleted source, and the wasm builds
    // with their times (so build-wasm.mjs keeps them: recompiling takes ~35 s); node_modules linked
    const src = join(tmp, 'src');
    mkdirSync(src);
    for (const f of ['package.json', 'tsconfig.json', 'asconfig.json', 'README.md', 'LICENSE'])
      cpSync(join(ROOT, f), join(src, f), { preserveTimestamps: true });
    for (const d of ['src', 'assembly', 'scripts', 'build'])
      cpSync(join(ROOT, d), join(src, d), { recursive: true, preserveTimestamps: true });
    mkdirSync(join(src, 'dist'));
    writeFileSync(join(src, 'dist', 'deleted-module.js'), 'export {};\n');
    symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'junction');
    const { stdout } = await sh(NPM, ['pack', '--json', '--pack-destination', tmp], {
      cwd: src,
      maxBuffer: 1 << 24,
    });
    // npm prints the lifecycle scripts' output before the JSON
    const res = JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as PackResult;
    packed = res[0].files.map((f) => f.path);
    const tarball = join(tmp, res[0].filename);

    // a consumer project whose lockfile takes the dependencies' entries from this repo's lockfile
    proj = join(tmp, 'proj');
    mkdirSync(proj);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    // every production entry (no `dev` flag): the dependencies, theirs, nested copies and the
    // platform packages of optional dependencies (e.g. @resvg/resvg-js-linux-x64-gnu)
    const entries: Record<string, unknown> = {};
    for (const [key, e] of Object.entries(lock.packages as Record<string, Record<string, unknown>>)) {
      if (!key.startsWith('node_modules/') || e.dev || e.link) continue;
      const { dev: _dev, peer: _peer, devOptional: _devOptional, ...rest } = e;
      entries[key] = rest;
    }
    for (const name of Object.keys(pkg.dependencies))
      if (!entries[`node_modules/${name}`])
        throw new Error(`node_modules/${name} is not in package-lock.json`);
    const spec = `file:${tarball}`;
    entries['node_modules/wasm-vae'] = {
      version: pkg.version,
      resolved: spec,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
    };
    const manifest = { name: 'consumer', private: true, type: 'module', dependencies: { 'wasm-vae': spec } };
    writeFileSync(join(proj, 'package.json'), JSON.stringify(manifest));
    writeFileSync(
      join(proj, 'package-lock.json'),
      JSON.stringify({
        name: 'consumer',
        lockfileVersion: 3,
        requires: true,
        packages: { '': { name: 'consumer', dependencies: manifest.dependencies }, ...entries },
      }),
    );
    await sh(NPM, ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: proj });
  });

  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('prepack built dist/ from scratch and dropped the leftover; then the build is up to date (npm start, prepare)', async () => {
    for (const f of REQUIRED) expect(packed, f).toContain(f);
    expect(packed).not.toContain('dist/deleted-module.js');
    const { stdout } = await sh(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: join(tmp, 'src') });
    expect(stdout.trim()).toBe('build: up to date');
  });

  it("import { VAE, Trainer } from 'wasm-vae' trains a tiny model; 'wasm-vae/node' has the Node helpers", async () => {
    const script = `
      import { VAE, Trainer, loadModel as a } from 'wasm-vae';
      import { loadModel as b, loadMnist } from 'wasm-vae/node';
      const vae = await VAE.create({ inputDim: 8, encoder: [6], latentDim: 2, seed: 1 });
      const x = new Float32Array(32 * 8).map((_, i) => (i * 7919) % 13 / 13);
      const h = await new Trainer(vae, { batchSize: 8 }).fit(x, { epochs: 2 });
      console.log(JSON.stringify({ losses: h.epochs.map((e) => e.loss), build: vae.build,
        same: a === b, loadMnist: typeof loadMnist }));
    `;
    writeFileSync(join(proj, 'train.mjs'), script);
    const { stdout } = await sh(process.execPath, ['train.mjs'], { cwd: proj });
    const r = JSON.parse(stdout);
    expect(r.losses).toHaveLength(2);
    for (const l of r.losses) expect(Number.isFinite(l)).toBe(true);
    expect(r.same).toBe(true);
    expect(r.loadMnist).toBe('function');
  });

  it('the bin runs: npx --no-install wasm-vae --help', async () => {
    const { stdout } = await sh(NPM, ['exec', '--no-install', '--', 'wasm-vae', '--help'], { cwd: proj });
    expect(stdout).toMatch(/^Usage: wasm-vae \[options\]/);
  });

  it('a consumer type-checks against the packed .d.ts with moduleResolution NodeNext and bundler; internals are stripped', async () => {
    const common = `
      import { VAE, Trainer, ConfigError, type TrainerOptions } from 'wasm-vae';
      import { init } from 'wasm-vae/inline';
      export async function go(): Promise<number> {
        await init();
        const vae: VAE = await VAE.create({ inputDim: 4, latentDim: 2 });
        const opts: TrainerOptions = { batchSize: 2, optimizer: { name: 'adam', lr: 1e-3 } };
        const t = new Trainer(vae, opts);
        // @ts-expect-error vae.net is @internal: stripped from the published types
        void vae.net;
        // @ts-expect-error VAE.fromFile is @internal
        void VAE.fromFile;
        return t.optimizer.lr + (new ConfigError('x').code === 'E_CONFIG' ? 1 : 0);
      }
    `;
    const node = `
      import { loadMnist, loadModel, saveModel, WorkerTrainer } from 'wasm-vae/node';
      import type { VAE } from 'wasm-vae';
      export const f = async (v: VAE): Promise<number> => {
        await saveModel('m.safetensors', v);
        const w = await WorkerTrainer.create(await loadModel('m.safetensors'), { batchSize: 2 });
        return (await loadMnist()).train.rows + (w.options.batchSize ?? 0);
      };
    `;
    writeFileSync(join(proj, 'common.ts'), common);
    writeFileSync(join(proj, 'node-helpers.ts'), node);
    // NodeNext also resolves the Node helpers from the main entry (the "node" types condition)
    writeFileSync(
      join(proj, 'nodenext.ts'),
      `import { loadMnist } from 'wasm-vae';\nexport { loadMnist };\n`,
    );
    const base = {
      target: 'ES2022',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
    };
    const configs = {
      'tsconfig.nodenext.json': {
        compilerOptions: { ...base, module: 'NodeNext', moduleResolution: 'NodeNext' },
        files: ['common.ts', 'node-helpers.ts', 'nodenext.ts'],
      },
      'tsconfig.bundler.json': {
        compilerOptions: { ...base, module: 'ESNext', moduleResolution: 'bundler' },
        files: ['common.ts', 'node-helpers.ts'],
      },
    };
    for (const [name, cfg] of Object.entries(configs)) writeFileSync(join(proj, name), JSON.stringify(cfg));
    await Promise.all(
      Object.keys(configs).map((name) =>
        sh(process.execPath, [TSC, '-p', name], { cwd: proj }).catch((err) => {
          throw new Error(`tsc -p ${name} failed:\n${err.stdout}${err.stderr}`);
        }),
      ),
    );
  });
});
