/**
 * The one way wasm-vae draws a static plot: a Vega-Lite specification compiled by `vega-lite`,
 * rendered to SVG by `vega` (headless, no canvas), and rasterised to PNG by `@resvg/resvg-js` when
 * the file name ends in `.png`. Used by the CLI, the bench report and the reproduction harness;
 * never imported by the library core (the modules load on first use).
 *
 * Helpers build the common specs (`lineChart`, `scatterChart`, `imageChart` for labelled image
 * grids), and `writeChart(path, spec)` writes atomically.
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

/** One point of a scatter plot, with an optional category (coloured, with a legend). */
export interface ScatterPoint {
  x: number;
  y: number;
  label?: string;
}

/** A scatter plot of points, coloured by `label` when the points have one. */
export function scatterChart(
  points: readonly ScatterPoint[],
  o: { title?: string; xTitle: string; yTitle: string; width?: number; height?: number },
): VegaLiteSpec {
  const labelled = points.some((p) => p.label !== undefined);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(o.title ? { title: o.title } : {}),
    width: o.width ?? 420,
    height: o.height ?? 420,
    background: 'white',
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'circle', size: 14, opacity: 0.7 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: o.xTitle, scale: { zero: false } },
      y: { field: 'y', type: 'quantitative', title: o.yTitle, scale: { zero: false } },
      ...(labelled
        ? { color: { field: 'label', type: 'nominal', title: 'label', scale: { scheme: 'category10' } } }
        : {}),
    },
  };
}

/** A text label placed in an image chart, in the image's pixel coordinates. */
export interface ImageLabel {
  x: number;
  y: number;
  text: string;
  align?: 'left' | 'center' | 'right';
  baseline?: 'top' | 'middle' | 'bottom';
}

/**
 * A raster image (PNG bytes, shown at its own pixel size: scale it up first, nearest-neighbour, for
 * crisp pixels) with a title and text labels around it — a Vega specification (Vega-Lite has no
 * pixel-positioned marks). Labels may sit outside the image (negative x or y): the padding makes room.
 */
export function imageChart(
  png: Uint8Array,
  width: number,
  height: number,
  o: { title?: string; labels?: readonly ImageLabel[]; padding?: { left: number; top: number } },
): VegaSpec {
  const pad = o.padding ?? { left: 10, top: 10 };
  return {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    width,
    height,
    padding: { left: pad.left, top: pad.top, right: 10, bottom: 10 },
    background: 'white',
    ...(o.title ? { title: { text: o.title, fontSize: 14, font: 'sans-serif' } } : {}),
    data: [{ name: 'labels', values: (o.labels ?? []).map((l) => ({ ...l })) }],
    marks: [
      {
        type: 'image',
        encode: {
          enter: {
            url: { value: `data:image/png;base64,${Buffer.from(png).toString('base64')}` },
            x: { value: 0 },
            y: { value: 0 },
            width: { value: width },
            height: { value: height },
            aspect: { value: false },
            smooth: { value: false },
          },
        },
      },
      {
        type: 'text',
        from: { data: 'labels' },
        encode: {
          enter: {
            x: { field: 'x' },
            y: { field: 'y' },
            text: { field: 'text' },
            align: { signal: "datum.align || 'center'" },
            baseline: { signal: "datum.baseline || 'bottom'" },
            fontSize: { value: 12 },
            font: { value: 'sans-serif' },
            fill: { value: '#222' },
          },
        },
      },
    ],
  };
}

/** A Vega (not Vega-Lite) specification (https://vega.github.io/vega/docs/specification/). */
export type VegaSpec = Record<string, unknown> & { marks: unknown[] };

/** Renders a Vega-Lite spec (or a Vega spec: one with `marks`) to an SVG document. */
export async function renderSvg(spec: VegaLiteSpec | VegaSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = Array.isArray(spec.marks)
    ? (spec as unknown as Parameters<typeof vega.parse>[0])
    : vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
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
export async function writeChart(path: string, spec: VegaLiteSpec | VegaSpec): Promise<number> {
  const svg = await renderSvg(spec);
  const data = path.toLowerCase().endsWith('.png') ? await svgToPng(svg) : svg;
  await writeFileAtomic(path, data);
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}
