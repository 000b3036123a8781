/**
 * The one way wasm-vae draws a static plot: a Vega-Lite specification compiled by `vega-lite`,
 * rendered to SVG by `vega` (headless, no canvas), and rasterised to PNG by `@resvg/resvg-js` when
 * the file name ends in `.png`. Used by the CLI, the bench report and the reproduction harness;
 * never imported by the library core (the modules load on first use).
 *
 * Helpers build the common specs (`lineChart`), and `writeChart(path, spec)` writes atomically.
 */
import { writeFileAtomic } from '../io/node.js';

/** A Vega-Lite top-level specification (https://vega.github.io/vega-lite/docs/spec.html). */
export type VegaLiteSpec = Record<string, unknown>;

/** One point of a line chart: `x`, `y` and the name of its series. */
export interface SeriesPoint {
  x: number;
  y: number;
  series: string;
  /** Optional second grouping drawn as the line's dash pattern (e.g. 'train' solid, 'test' dashed). */
  style?: string;
}

export interface LineChartOptions {
  title?: string;
  xTitle: string;
  yTitle: string;
  /** Log-scaled x axis (default false). */
  logX?: boolean;
  /** Zoom the y axis to the data instead of starting at zero (default true). */
  zoomY?: boolean;
  /** Plot width and height in CSS pixels (default 560 × 320). */
  width?: number;
  height?: number;
  /** Draw a point at each datum (default true). */
  points?: boolean;
}

/** A multi-series line chart: one line per distinct `series`, a legend, axis titles. */
export function lineChart(points: readonly SeriesPoint[], o: LineChartOptions): VegaLiteSpec {
  const styled = points.some((p) => p.style !== undefined);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(o.title ? { title: o.title } : {}),
    width: o.width ?? 560,
    height: o.height ?? 320,
    background: 'white',
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'line', point: o.points ?? true, strokeWidth: 2 },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: o.xTitle,
        scale: o.logX ? { type: 'log' } : { zero: false },
      },
      y: { field: 'y', type: 'quantitative', title: o.yTitle, scale: { zero: !(o.zoomY ?? true) } },
      color: { field: 'series', type: 'nominal', title: null },
      ...(styled
        ? {
            strokeDash: { field: 'style', type: 'nominal', title: null },
            detail: { field: 'series', type: 'nominal' },
          }
        : {}),
    },
  };
}

/** Renders a Vega-Lite spec to an SVG document. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG document to PNG at `scale` × its size (default 2, for sharp text). */
export async function svgToPng(svg: string, scale = 2): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  const r = new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, font: { loadSystemFonts: true } });
  return r.render().asPng();
}

/**
 * Writes `spec` to `path` atomically: PNG when the name ends in `.png`, else SVG. Returns the bytes
 * written.
 */
export async function writeChart(path: string, spec: VegaLiteSpec): Promise<number> {
  const svg = await renderSvg(spec);
  const data = path.toLowerCase().endsWith('.png') ? await svgToPng(svg) : svg;
  await writeFileAtomic(path, data);
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}
