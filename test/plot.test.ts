// src/cli/plot.ts, the one charting module: the bench chart (bench/lib/report.mjs svgChart, from the
// committed bench/results/latest.json), image charts and scatter plots render to SVG and PNG with
// the data in them.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { imageChart, renderSvg, scatterChart, svgToPng } from '../src/cli/plot.js';
import { encodeGrayPng, scaleUp } from '../src/cli/png.js';

const ROOT = resolve(import.meta.dirname, '..');

describe('plot.ts', () => {
  it('the bench chart: one bar per system and batch, labelled with its median', async () => {
    // @ts-expect-error -- bench/lib is plain JavaScript without declarations
    const { svgChart, chartSpec, label } = await import('../bench/lib/report.mjs');
    const R = JSON.parse(readFileSync(resolve(ROOT, 'bench/results/latest.json'), 'utf8'));
    const spec = chartSpec(R);
    expect(spec.data.values).toHaveLength(R.step.length);
    const svg: string = await svgChart(R);
    expect(svg).toMatch(/^<svg/);
    for (const s of R.step) expect(svg).toContain(label(s.system, s.env));
    const bars = svg.match(/<path aria-label="batch: batch \d+; samples \/ s: [\d.]+; system: [^"]+"/g) ?? [];
    expect(bars.length).toBe(R.step.length);
    for (const s of R.step)
      expect(svg).toContain(
        `batch: batch ${s.batch}; samples / s: ${s.samplesPerSec.median}; system: ${label(s.system, s.env)}"`,
      );
    // each bar's label: its median, in thousands with one decimal from 1,000 on
    const m = R.step.find(
      (x: { system: string; env: string; batch: number }) =>
        x.system === 'wasm-vae-relaxed' && x.env === 'node' && x.batch === 32,
    ).samplesPerSec.median;
    expect(svg).toContain(`>${m >= 1000 ? `${(m / 1000).toFixed(1)}k` : Math.round(m)}</text>`);
    const png = decode(await svgToPng(svg));
    expect(png.width).toBeGreaterThan(1500);
  });

  it('imageChart shows the image at its pixel size with labels; scaleUp is nearest-neighbour', async () => {
    const img = { data: Uint8Array.from([0, 255, 128, 64]), width: 2, height: 2 };
    const big = scaleUp(img, 3);
    expect([big.width, big.height]).toEqual([6, 6]);
    expect(Array.from(big.data.subarray(0, 6))).toEqual([0, 0, 0, 255, 255, 255]);
    expect(big.data[5 * 6 + 0]).toBe(128);
    const svg = await renderSvg(
      imageChart(encodeGrayPng(big), 6, 6, { title: 'tiles', labels: [{ x: 3, y: -2, text: 'seven' }] }),
    );
    expect(svg).toMatch(/<image[^>]*width="6"[^>]*height="6"/);
    expect(svg).toContain('seven');
    expect(svg).toContain('tiles');
  });

  it('scatterChart colours by label with a legend', async () => {
    const pts = [0, 1, 2, 3].map((i) => ({ x: i, y: -i, label: String(i % 2) }));
    const svg = await renderSvg(scatterChart(pts, { title: 'latent', xTitle: 'μ₁', yTitle: 'μ₂' }));
    expect(svg.match(/<path aria-label="μ₁: \d; μ₂: [-−]?\d; label: [01]"/g) ?? []).toHaveLength(4);
    expect(svg).toContain('μ₁');
    expect(svg).toMatch(/role-legend/);
  });
});
