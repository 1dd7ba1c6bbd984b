// Time series, drawn one way in the whole project: uPlot, with the same palette, axes and
// legend in the viewer's live mode and in the HTML report of `slabsim run --report`
// (which inlines this module, bundled, with uPlot). x is milliseconds since the start.
import './locale_guard.js';
import uPlot from 'uplot';

const PALETTE = ['#2f67b1', '#e07b00', '#2a9d4b', '#c0262d', '#8a5cc2', '#8c564b', '#d6589f', '#6b7280', '#a9a20f', '#17a2b8'];

export const cpuColor = (i: number): string => (i < PALETTE.length ? PALETTE[i] : `hsl(${(i * 137.5) % 360}, 55%, 45%)`);

/** 1234567 -> "1.2M" for axes. */
export function short(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(a >= 1e10 ? 0 : 1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n * 100) / 100);
}

export const full = (n: number): string => Math.round(n).toLocaleString('en-US');

export interface SeriesSpec {
  label: string;
  color: string;
  dash?: number[];
}

export interface ChartSpec {
  series: SeriesSpec[];
  /** y axis label and the unit after a legend value (' ops/s') */
  yLabel: string;
  unit?: string;
  /** each y[i] holds over the interval that ends at x[i] (rates per sampling interval) */
  stepped?: boolean;
  /** y is a fraction 0..1, shown as a percentage */
  percent?: boolean;
  height?: number;
}

/** Data as uPlot takes it: x (ms), then one array per series. */
export type ChartData = [number[], ...Array<Array<number | null>>];

/** A time-series chart in `host`, sized to its width; setData() redraws it. */
export function timeChart(host: HTMLElement, spec: ChartSpec, data: ChartData): uPlot {
  const fmt = (v: number | null): string =>
    v === null || v === undefined ? '-' : spec.percent ? `${(100 * v).toFixed(1)}%` : `${full(v)}${spec.unit ?? ''}`;
  const opts: uPlot.Options = {
    width: Math.max(320, host.clientWidth || 640),
    height: spec.height ?? 240,
    scales: {
      x: { time: false },
      y: spec.percent ? { range: [0, 1] } : { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
    },
    axes: [
      { label: 'seconds', values: (_u, ticks) => ticks.map((t) => (t / 1000).toFixed(t % 1000 === 0 ? 0 : 1)) },
      {
        label: spec.yLabel,
        size: 60,
        values: (_u, ticks) => ticks.map((t) => (spec.percent ? `${Math.round(100 * t)}%` : short(t))),
      },
    ],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    series: [
      { label: 'time', value: (_u, v) => (v === null ? '-' : `${(v / 1000).toFixed(2)} s`) },
      ...spec.series.map((s): uPlot.Series => ({
        label: s.label,
        stroke: s.color,
        width: 2,
        dash: s.dash,
        value: (_u, v) => fmt(v),
        paths: spec.stepped ? uPlot.paths.stepped?.({ align: 1 }) : undefined,
        points: { show: false },
      })),
    ],
  };
  return new uPlot(opts, data as uPlot.AlignedData, host);
}
