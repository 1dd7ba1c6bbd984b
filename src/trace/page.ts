// The script of `slabsim trace --report`: the two time series over the trace's own time
// (slab pages per profile, live objects), drawn by the project's charts (uPlot), bundled
// and inlined by reportScript('trace/page').
import { cpuColor, timeChart } from '../view/charts.js';
import { guard, note } from '../report/page_parts.js';
import type { TraceHtmlData } from './html.js';

const D = JSON.parse(document.getElementById('slabsim-data')?.textContent ?? '{}') as TraceHtmlData;

guard('pages-chart', (host) => {
  if (D.t.length < 2) return note(host, 'Too few events for a chart over time.');
  timeChart(
    host,
    {
      series: D.profiles.map((p, i) => ({ label: `slab pages ${p}`, color: cpuColor(i) })),
      yLabel: 'pages',
      unit: ' pages',
      height: 300,
    },
    [D.t, ...D.pages],
  );
});

guard('live-chart', (host) => {
  if (D.t.length < 2) return note(host, 'Too few events for a chart over time.');
  timeChart(host, { series: [{ label: 'live objects', color: '#2f67b1' }], yLabel: 'objects', unit: ' objects', height: 240 }, [
    D.t,
    D.live,
  ]);
});
