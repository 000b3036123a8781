// The wasm ABI is declared once: src/abi.ts is generated from assembly/ (scripts/gen-abi.mjs).
// Here the declaration is checked against the sources (not stale) and against every compiled
// build: the same exports, each function with the declared number of parameters, each constant
// with the declared value — so a reordered or added argument fails a test, not a user.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { KERNEL_ARITY, KERNEL_CONSTANTS, TEST_HOOKS } from '../src/abi.js';
import { BUILDS } from './helpers.js';

const root = new URL('..', import.meta.url);

describe('wasm ABI (src/abi.ts)', () => {
  it('is what scripts/gen-abi.mjs makes of assembly/ today', () => {
    // exits 1 with a message when stale
    expect(
      execFileSync(process.execPath, ['scripts/gen-abi.mjs', '--check'], { cwd: root, encoding: 'utf8' }),
    ).toMatch(/up to date/);
  });

  it('declares every function of assembly/index.ts, test hooks apart', () => {
    const index = readFileSync(new URL('assembly/index.ts', root), 'utf8');
    for (const name of Object.keys(KERNEL_ARITY)) expect(index, name).toMatch(new RegExp(`\\b${name}\\b`));
    expect(TEST_HOOKS).toEqual([
      'f32_gemm_nt_ref',
      'f32_gemm_nn_ref',
      'f32_gemm_tn_ref',
      'vmath_eval',
      'conv2d_forward_ref',
      'conv2d_backward_ref',
      'conv_transpose2d_forward_ref',
      'conv_transpose2d_backward_ref',
    ]);
  });

  describe.each(BUILDS)('the %s build', (build) => {
    const mod = new WebAssembly.Module(readFileSync(new URL(`build/${build}.wasm`, root)));
    const memory = new WebAssembly.Memory({ initial: 16 });
    const inst = new WebAssembly.Instance(mod, { env: { memory } });
    it('exports exactly the declared functions and constants (plus nothing else)', () => {
      const exported = WebAssembly.Module.exports(mod)
        .map((e) => `${e.kind}:${e.name}`)
        .sort();
      // AssemblyScript also re-exports the imported memory
      const declared = [
        'memory:memory',
        ...Object.keys(KERNEL_ARITY).map((n) => `function:${n}`),
        ...Object.keys(KERNEL_CONSTANTS).map((n) => `global:${n}`),
      ].sort();
      expect(exported).toEqual(declared);
      expect(WebAssembly.Module.imports(mod)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    });
    it('every function takes the declared number of parameters', () => {
      for (const [name, arity] of Object.entries(KERNEL_ARITY))
        expect((inst.exports[name] as (...a: number[]) => unknown).length, name).toBe(arity);
    });
    it('every constant has the declared value', () => {
      for (const [name, value] of Object.entries(KERNEL_CONSTANTS))
        expect(Number((inst.exports[name] as WebAssembly.Global).value), name).toBe(value);
    });
  });
});
