// PyTorch both ways. Import: VAE.fromPyTorch on a safetensors state_dict (examples/vae's names,
// a names map, the wasm-vae names) and its FormatErrors. Export: scripts/wasm_vae_torch.py (the
// README's snippet) builds the PyTorch module from a wasm-vae file. The round trips run Debian's
// /usr/bin/python3 with python3-torch (scripts/pytorch_roundtrip.py): PyTorch's examples/vae model
// trained 5 steps and saved → fromPyTorch → the same μ, log σ² and decoder outputs (≤ 1e-5); and
// wasm-vae models trained here → the snippet → the same outputs in PyTorch. Under CI a missing
// torch fails the run (.ci/run installs it) instead of skipping.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  FormatError,
  Trainer,
  VAE,
  decodeSafetensors,
  encodeSafetensors,
  loadMnist,
  type TensorEntry,
  type VAEOptions,
} from '../src/node.js';
import { parameterShapes, EXAMPLES_VAE_NAMES } from '../src/io/pytorch.js';
import { codeBlocks } from './markdown.js';

const sh = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const PY = '/usr/bin/python3';
const SNIPPET = join(ROOT, 'scripts', 'wasm_vae_torch.py');
const ROUNDTRIP = join(ROOT, 'scripts', 'pytorch_roundtrip.py');

function hasTorch(): boolean {
  try {
    execFileSync(PY, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const TORCH = hasTorch();

/** The tensors of a safetensors file renamed by `rename` (dropping those it maps to null). */
function renamed(bytes: Uint8Array, rename: (n: string) => string | null, meta: Record<string, string> = {}) {
  const out = new Map<string, TensorEntry>();
  for (const [n, t] of decodeSafetensors(bytes).tensors) {
    const m = rename(n);
    if (m !== null) out.set(m, t);
  }
  return { tensors: out, bytes: encodeSafetensors(out, meta) };
}

/** Deterministic rows: a small LCG (values in [0, 1)), or standard normals by Box–Muller. */
function rows(n: number, normal: boolean, seed = 12345): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return Float32Array.from({ length: n }, () =>
    normal ? Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) : u(),
  );
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const readF32 = (p: string) => {
  const b = readFileSync(p);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

describe('parameter names and shapes', () => {
  it('parameterShapes lists exactly the tensors a model holds, in order', async () => {
    for (const opts of [
      { inputDim: 784, encoder: [400], latentDim: 20 },
      { inputDim: 5, encoder: [7, 6], decoder: [3], latentDim: 2, likelihood: 'gaussian-learned' as const },
      { inputDim: 4, encoder: [], decoder: [], latentDim: 3, likelihood: 'gaussian' as const },
    ]) {
      const vae = await VAE.create({ ...opts, threads: 1 });
      const want = [...vae.stateDict()].map(([name, t]) => ({ name, shape: t.shape }));
      expect(parameterShapes(vae.config)).toEqual(want);
    }
  });
});

describe('VAE.fromPyTorch', () => {
  const X = rows(6 * 12, false);
  const Z = rows(6 * 3, true, 99);

  it('recognises examples/vae names, a names map and the wasm-vae names: the same bits', async () => {
    const vae = await VAE.create({ inputDim: 12, encoder: [10], latentDim: 3, seed: 4, threads: 1 });
    const ref = { enc: vae.encode(X), dec: vae.decode(Z) };
    const toExamples = Object.fromEntries(Object.entries(EXAMPLES_VAE_NAMES));
    const ex = renamed(vae.save(), (n) => {
      const dot = n.lastIndexOf('.');
      return `${toExamples[n.slice(0, dot)]}${n.slice(dot)}`;
    });
    expect([...ex.tensors.keys()].sort()).toEqual(
      ['fc1', 'fc21', 'fc22', 'fc3', 'fc4'].flatMap((l) => [`${l}.bias`, `${l}.weight`]),
    );
    const names = {
      'encoder.0': 'enc.0',
      fc_mu: 'mean',
      fc_logvar: 'lv',
      'decoder.0': 'dec.0',
      fc_out: 'head',
    };
    const mapped = renamed(vae.save(), (n) => {
      const dot = n.lastIndexOf('.');
      return `${(names as Record<string, string>)[n.slice(0, dot)]}${n.slice(dot)}`;
    });
    const native = renamed(vae.save(), (n) => n, { format: 'pt' });
    for (const got of [
      await VAE.fromPyTorch(ex.bytes, { threads: 1 }),
      await VAE.fromPyTorch(mapped.bytes, { names, threads: 1 }),
      await VAE.fromPyTorch(native.bytes.slice().buffer, { threads: 1 }), // an ArrayBuffer
    ]) {
      expect(got.config).toMatchObject({ inputDim: 12, encoder: [10], latentDim: 3, decoder: [10] });
      expect(got.encode(X).mu).toEqual(ref.enc.mu);
      expect(got.encode(X).logvar).toEqual(ref.enc.logvar);
      expect(got.decode(Z)).toEqual(ref.dec);
    }
  });

  it('reads deeper models, a learned-variance head and F64 tensors; options set what tensors cannot tell', async () => {
    const vae = await VAE.create({
      inputDim: 12,
      encoder: [9, 7],
      decoder: [5, 8, 6],
      latentDim: 3,
      activation: 'elu',
      likelihood: 'gaussian-learned',
      seed: 2,
      threads: 1,
    });
    const f64 = new Map<string, TensorEntry>();
    for (const [n, t] of vae.stateDict())
      f64.set(n, { dtype: 'F64', shape: t.shape, data: Float64Array.from(t.data) });
    const got = await VAE.fromPyTorch(encodeSafetensors(f64), { activation: 'elu', threads: 1 });
    expect(got.config).toMatchObject({ encoder: [9, 7], decoder: [5, 8, 6], likelihood: 'gaussian-learned' });
    expect(got.decode(Z)).toEqual(vae.decode(Z));
    // the activation is not in the tensors: the default (ReLU) gives other numbers
    const relu = await VAE.fromPyTorch(encodeSafetensors(f64), { threads: 1 });
    expect(relu.config.activation).toBe('relu');
    expect(relu.decode(Z)).not.toEqual(vae.decode(Z));
  });

  it('names missing, extra and mis-shaped tensors in one FormatError, before allocating', async () => {
    const vae = await VAE.create({ inputDim: 12, encoder: [10], latentDim: 3, threads: 1 });
    const bytes = vae.save();
    const err = async (b: Uint8Array, o = {}) => {
      const e = await VAE.fromPyTorch(b, { threads: 1, ...o }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(FormatError);
      return (e as Error).message;
    };
    const missing = renamed(bytes, (n) => (n === 'fc_out.bias' ? null : n)).bytes;
    expect(await err(missing)).toMatch(
      /does not match the model 12-\[10\]-3-\[10\]-12 \(bernoulli\): missing tensors fc_out\.bias \[12\]/,
    );
    const extra = renamed(bytes, (n) => n);
    extra.tensors.set('bn.num_batches_tracked', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    expect(await err(encodeSafetensors(extra.tensors))).toMatch(/extra tensors bn\.num_batches_tracked/);
    const shaped = renamed(bytes, (n) => n);
    shaped.tensors.set('fc_mu.weight', { dtype: 'F32', shape: [3, 9], data: new Float32Array(27) });
    expect(await err(encodeSafetensors(shaped.tensors))).toMatch(
      /mis-shaped tensors fc_mu\.weight is \[3, 9\], expected \[3, 10\]/,
    );
    // a map naming a layer the file lacks: the missing tensor named with the layer it stands for
    expect(await err(bytes, { names: { fc_mu: 'mu' } })).toMatch(
      /missing tensors mu\.weight \[3, 10\] \(for fc_mu\.weight\), mu\.bias \[3\] \(for fc_mu\.bias\); extra tensors fc_mu\.weight, fc_mu\.bias/,
    );
    // sizes given in the options are held to the tensors
    expect(await err(bytes, { inputDim: 13 })).toMatch(
      /encoder\.0\.weight is \[10, 12\], expected \[10, 13\]/,
    );
    expect(await err(renamed(bytes, (n) => `model.${n}`).bytes)).toMatch(
      /cannot find the model's layers: no "fc_mu\.weight" .* among the file's tensors model\.encoder\.0\.weight/,
    );
    const nan = renamed(bytes, (n) => n);
    nan.tensors.get('fc_out.bias')!.data[5] = NaN;
    expect(await err(encodeSafetensors(nan.tensors))).toMatch(
      /tensor fc_out\.bias holds a non-finite value at index 5/,
    );
    expect(await err(new Uint8Array([1, 2, 3]))).toMatch(/./);
    await expect(VAE.fromPyTorch('model.safetensors' as never)).rejects.toThrow(
      /expects the file's bytes as a Uint8Array or ArrayBuffer, got "model.safetensors" \(a string\)/,
    );
    await expect(VAE.fromPyTorch(bytes, { names: { fc9: 'x' } })).rejects.toThrow(ConfigError);
    await expect(VAE.fromPyTorch(bytes, { names: { fc9: 'x' } })).rejects.toThrow(/unknown layer "fc9"/);
    await expect(VAE.fromPyTorch(bytes, { activation: 'gelu' as never })).rejects.toThrow(ConfigError);
  });

  it('VAE.load takes an ArrayBuffer and a Node Buffer too', async () => {
    const vae = await VAE.create({ inputDim: 12, encoder: [10], latentDim: 3, threads: 1 });
    const b = vae.save();
    for (const f of [b.slice().buffer, Buffer.from(b)])
      expect((await VAE.load(f, { threads: 1 })).decode(Z)).toEqual(vae.decode(Z));
    await expect(VAE.load([1, 2] as never)).rejects.toThrow(/got \[1,2\] \(an array\)/);
  });
});

describe('the README', () => {
  it('shows scripts/wasm_vae_torch.py as it is', () => {
    const py = codeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8')).filter((b) => b.info === 'python');
    expect(py.map((b) => b.code)).toContain(readFileSync(SNIPPET, 'utf8'));
  });
});

describe.skipIf(!TORCH && process.env.CI !== 'true')(
  'round trips with PyTorch (Debian python3-torch)',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasm-vae-torch-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const N = 256;

    async function inputs(D: number, Zd: number, data?: Float32Array) {
      const x = data ?? rows(N * D, false, 7);
      const z = rows(N * Zd, true, 8);
      writeFileSync(join(dir, 'x.f32'), x);
      writeFileSync(join(dir, 'z.f32'), z);
      return { x, z };
    }
    const torchOut = () => ({
      mu: readF32(join(dir, 'torch_mu.f32')),
      logvar: readF32(join(dir, 'torch_logvar.f32')),
      decoded: readF32(join(dir, 'torch_decoded.f32')),
    });

    it('torch is installed (.ci/run installs python3-torch)', () => expect(TORCH).toBe(true));

    it('PyTorch examples/vae trained 5 steps → VAE.fromPyTorch: the same μ, log σ², decoder outputs', async () => {
      const { train } = await loadMnist();
      const { x, z } = await inputs(784, 20, train.x.subarray(0, N * 784));
      const { stdout } = await sh(PY, [ROUNDTRIP, 'train', dir]);
      expect(stdout).toMatch(/trained 5 steps/);
      const vae = await VAE.fromPyTorch(readFileSync(join(dir, 'examples_vae.safetensors')), { threads: 1 });
      expect(vae.config).toMatchObject({ inputDim: 784, encoder: [400], latentDim: 20, decoder: [400] });
      const t = torchOut();
      const { mu, logvar } = vae.encode(x);
      const d = [maxAbsDiff(mu, t.mu), maxAbsDiff(logvar, t.logvar), maxAbsDiff(vae.decode(z), t.decoded)];
      console.log(
        `examples/vae → wasm-vae: max |Δ| μ ${d[0].toExponential(2)}, log σ² ${d[1].toExponential(2)}, decoded ${d[2].toExponential(2)}`,
      );
      for (const v of d) expect(v).toBeLessThanOrEqual(1e-5);
      // trained: the weights moved from their initialisation (the outputs are not a fresh model's)
      expect(maxAbsDiff(mu, new Float32Array(mu.length))).toBeGreaterThan(1e-2);
    });

    for (const [label, opts, D] of [
      [
        'the reference model 784-400-20 (ReLU, Bernoulli)',
        { inputDim: 784, encoder: [400], latentDim: 20 },
        784,
      ],
      [
        'a 2-layer ELU model with a learned-variance Gaussian head',
        {
          inputDim: 30,
          encoder: [24, 16],
          decoder: [12, 20],
          latentDim: 4,
          activation: 'elu',
          likelihood: 'gaussian-learned',
        },
        30,
      ],
      [
        'a tanh model with a fixed-σ Gaussian',
        { inputDim: 30, encoder: [16], latentDim: 2, activation: 'tanh', likelihood: 'gaussian', sigma: 0.5 },
        30,
      ],
    ] as [string, VAEOptions, number][]) {
      it(`wasm-vae ${label}, trained → the README's Python snippet: the same outputs in PyTorch`, async () => {
        const vae = await VAE.create({ ...opts, seed: 3, threads: 1 });
        const { x, z } = await inputs(D, vae.config.latentDim);
        await new Trainer(vae, { batchSize: 64 }).fit(x, { epochs: 2 });
        const file = join(dir, 'wasm.safetensors');
        writeFileSync(file, vae.save());
        const { stdout } = await sh(PY, [ROUNDTRIP, 'export', file, dir]);
        expect(stdout).toContain(`${vae.parameterCount} parameters`);
        const t = torchOut();
        const { mu, logvar } = vae.encode(x);
        const d = [maxAbsDiff(mu, t.mu), maxAbsDiff(logvar, t.logvar), maxAbsDiff(vae.decode(z), t.decoded)];
        console.log(
          `wasm-vae → PyTorch (${label}): max |Δ| μ ${d[0].toExponential(2)}, log σ² ${d[1].toExponential(2)}, decoded ${d[2].toExponential(2)}`,
        );
        for (const v of d) expect(v).toBeLessThanOrEqual(1e-5);
      });
    }
  },
);
