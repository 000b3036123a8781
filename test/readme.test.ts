// Every ```ts and ```js block of README.md is a program the suite runs, so the README cannot drift:
// each block is written to test-artifacts/readme/ (inside this package, so `import … from
// 'wasm-vae'` resolves through the package's own exports map to the built dist/, as it does for a
// user's project), type-checked with tsc (NodeNext, strict) and run with node. A block that must
// not run says so in its info string: ```ts no-run (a fragment, or code for a browser page).
// ```python blocks are not run here: test/pytorch.test.ts checks that the README's Python snippet
// is the file it runs.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { transform } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { codeBlocks, type Block } from './markdown.js';

const sh = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const DIR = join(ROOT, 'test-artifacts', 'readme');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = codeBlocks(README);
const lang = (b: Block) => b.info.split(/\s+/)[0];
const runnable = blocks.filter((b) => ['ts', 'js'].includes(lang(b)) && !/\bno-run\b/.test(b.info));
const name = (b: Block) => `block-line${b.line}.${lang(b) === 'ts' ? 'mts' : 'mjs'}`;

describe('codeBlocks', () => {
  it('reads fences, info strings and lines; an unclosed fence is an error', () => {
    const md = 'a\n```ts no-run\nx;\n```\ntext\n```js\ny;\nz;\n```\n';
    expect(codeBlocks(md)).toEqual([
      { info: 'ts no-run', code: 'x;\n', line: 2 },
      { info: 'js', code: 'y;\nz;\n', line: 6 },
    ]);
    expect(() => codeBlocks('```ts\nx;\n')).toThrow(/README.md:1: code block is not closed/);
  });
});

describe('README.md code blocks', () => {
  beforeAll(() => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    for (const b of runnable) writeFileSync(join(DIR, name(b)), b.code);
  });

  it('has runnable blocks, and every ts/js block is either run or marked no-run', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(4);
    const other = blocks.filter((b) => !runnable.includes(b)).map((b) => lang(b));
    for (const l of other) expect(['sh', 'ts', 'js', 'python', '', 'text']).toContain(l);
  });

  it('every runnable block type-checks (tsc, NodeNext, strict)', async () => {
    writeFileSync(
      join(DIR, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        include: ['*.mts'],
      }),
    );
    const r = await sh(process.execPath, [TSC, '-p', DIR]).catch((e: { stdout: string }) => e);
    expect('stdout' in r ? r.stdout : '').toBe('');
  });

  for (const b of runnable) {
    it(`README.md:${b.line} (${b.info}) runs`, async () => {
      // Node 20 cannot run TypeScript: strip the types (esbuild, types only, no bundling)
      const js = lang(b) === 'ts' ? (await transform(b.code, { loader: 'ts', format: 'esm' })).code : b.code;
      const file = join(DIR, name(b).replace(/\.mts$/, '.run.mjs'));
      writeFileSync(file, js);
      const { stdout, stderr } = await sh(process.execPath, ['--experimental-wasm-relaxed-simd', file], {
        cwd: DIR,
        timeout: 100_000,
      });
      expect(stderr).toBe('');
      expect(stdout.length).toBeGreaterThan(0); // every block shows what it computed
    });
  }
});
