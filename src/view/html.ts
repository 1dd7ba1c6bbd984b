// The viewer's page: markup and stylesheet. Scripts and styles are separate files of the
// same server (its Content-Security-Policy allows nothing else).

export function pageHtml(): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/uplot.css">
<link rel="stylesheet" href="/view.css">
<title>slabsim view</title>
<script type="module" src="/page.js"></script>
</head>
<body>
<header>
<h1>slabsim view</h1>
<nav><button id="tab-step" class="tab on">Step</button><button id="tab-live" class="tab">Live</button></nav>
<span id="status" role="status">loading...</span>
</header>
<main>
<section id="step-mode">
<div class="bar">
<label>model <select id="model"></select></label>
<label>profile <select id="profile"></select></label>
<label>mutant <select id="mutant"></select></label>
<label>seed <input id="seed" type="number" min="0" value="1"></label>
<label title="the memory mode of a new run or a hunt (docs/memory-models.md); a loaded schedule names its own">memory model <select id="memory-model"><option>sc</option><option>tso</option><option>arm</option><option>js</option></select></label>
<button id="generate" title="a run under a random schedule of this seed">New run</button>
<button id="hunt" title="explore schedules from this seed until one fails; show it shrunk">Find a failure</button>
</div>
<div class="bar">
<label class="grow">schedule <input id="schedule" spellcheck="false" placeholder="v1:model:profile:mutant:seed:choices, or v2:model:profile:mutant:seed:mode:choices"></label>
<button id="load">Load</button>
</div>
<p id="doc" class="hint"></p>
<div class="bar transport">
<button id="first" title="before the first step (Home)">|&#x25C0;</button>
<button id="back" title="step back (&larr;)">&#x25C0;</button>
<button id="forward" title="step forward (&rarr;)">&#x25B6;</button>
<button id="play" title="play / pause (space)">play</button>
<label>speed <input id="speed" type="range" min="1" max="60" value="4"> <span id="speed-value">4</span> steps/s</label>
<button id="to-failure" title="the step where the run failed (End)">failure &#x25B6;|</button>
<input id="slider" type="range" min="-1" max="0" value="-1" class="grow">
<span id="position">-</span>
</div>
<div id="outcome"></div>
<div class="cols">
<div class="col">
<h2>Step</h2>
<div id="step" data-step="-1">
<div class="kv"><span>CPU</span><b id="step-cpu">-</b></div>
<div class="kv"><span>next site</span><b id="step-site">-</b></div>
<div class="kv"><span>accesses</span><ul id="step-accesses"></ul></div>
<pre id="step-line"></pre>
</div>
<h2>Threads</h2>
<div id="threads"></div>
<section id="buffers-section" hidden>
<h2>Store buffers</h2>
<p class="hint">Each CPU's stores not yet in memory, oldest first; <b>wmb</b>: an smp_wmb between them. A load marked <b>read past</b> did not see another CPU's store to that word, still waiting in its buffer (outlined there); <b>stale</b>: it returned an older value than memory held.</p>
<div id="buffers"></div>
</section>
<h2>Memory words the run touches</h2>
<p class="hint">Every word any step reads or writes, with its value at this step; the words of this step are marked.</p>
<table id="words" class="num"><thead><tr><th>word</th><th>what</th><th>value</th><th>buffered</th></tr></thead><tbody></tbody></table>
</div>
<div class="col wide">
<h2>The machine</h2>
<div id="picture"></div>
</div>
</div>
</section>
<section id="live-mode" hidden>
<div class="bar">
<label>workload <select id="workload"><option>threadtest</option><option>xmalloc</option><option>larson</option></select></label>
<label>CPUs <input id="cpus" type="number" min="1" max="16" value="2"></label>
<label>profile <select id="live-profile"><option>6.6</option><option>5.4</option><option>6.18</option><option>7.0</option></select></label>
<label>interrupt rate <input id="irq" type="number" min="0" max="1" step="0.001" value="0"></label>
<button id="live-start">Start</button>
<button id="live-pause" disabled>Pause</button>
<button id="live-resume" disabled>Resume</button>
<button id="live-stop" disabled>Stop</button>
</div>
<div id="live-counters"></div>
<div id="live-checks"></div>
<div class="charts">
<div><h2>ops/s per CPU</h2><div id="chart-ops" class="chart"></div></div>
<div><h2>fast-path share per CPU</h2><div id="chart-fast" class="chart"></div></div>
<div><h2>pages in slabs</h2><div id="chart-slabs" class="chart"></div></div>
<div><h2>partial list lengths</h2><div id="chart-partial" class="chart"></div></div>
</div>
<h2>The machine</h2>
<div id="live-picture"></div>
</section>
</main>
</body>
</html>
`;
}

export const PAGE_CSS = `
:root { --fg: #1c2330; --muted: #5b6576; --line: #dde2ea; --bg: #f6f7f9; --used: #2f67b1; --free: #cfdcf0;
  --cpufree: #8fd19e; --sheaf: #b48ae0; --hl: #f5b400; --bad: #c0262d; --ok: #2a9d4b; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 16px; align-items: center; padding: 8px 16px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 14px; margin: 14px 0 6px; }
nav .tab { border: 1px solid var(--line); background: #fff; padding: 4px 12px; cursor: pointer; }
nav .tab.on { background: var(--fg); color: #fff; }
#status { color: var(--muted); }
#status.error { color: var(--bad); }
main { padding: 8px 16px; }
.bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 6px 0; }
.bar .grow, .bar input.grow { flex: 1; }
.bar label.grow { display: flex; gap: 6px; align-items: center; }
.bar label.grow input { flex: 1; font-family: ui-monospace, monospace; }
input[type=number] { width: 80px; }
.hint { color: var(--muted); margin: 4px 0; font-size: 13px; }
.cols { display: flex; gap: 16px; align-items: flex-start; }
.col { flex: 0 0 420px; min-width: 0; }
.col.wide { flex: 1; }
.kv { display: flex; gap: 8px; margin: 2px 0; }
.kv > span { color: var(--muted); width: 80px; flex: none; }
#step-accesses { margin: 0; padding-left: 16px; font-family: ui-monospace, monospace; font-size: 12px; }
#step-accesses .failed { color: var(--bad); font-weight: 600; }
#step-accesses .ok { color: var(--ok); }
#step-line { font-size: 12px; background: #fff; border: 1px solid var(--line); padding: 4px 6px; white-space: pre-wrap; }
#outcome { margin: 6px 0; }
#outcome.failed { color: var(--bad); }
table.num { border-collapse: collapse; font-size: 12px; background: #fff; }
table.num td, table.num th { border: 1px solid var(--line); padding: 2px 6px; text-align: left; }
table.num td.v { font-family: ui-monospace, monospace; }
tr.hl td, .hl { outline: 2px solid var(--hl); background: #fff6d6; }
.thread { display: flex; gap: 8px; font-family: ui-monospace, monospace; font-size: 12px; }
.thread.moved { background: #fff6d6; }
.thread .st { color: var(--muted); }
.cache { background: #fff; border: 1px solid var(--line); border-radius: 4px; padding: 8px; margin-bottom: 10px; }
.cache h3 { margin: 0 0 6px; font-size: 14px; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
.box { border: 1px solid var(--line); border-radius: 4px; padding: 6px; min-width: 220px; }
.box h4 { margin: 0 0 4px; font-size: 13px; }
.box .kv span { width: 110px; }
.chain { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
.slab { display: flex; align-items: center; gap: 6px; margin: 3px 0; font-size: 12px; }
.slab .lbl { width: 150px; flex: none; font-family: ui-monospace, monospace; }
.cells { display: flex; flex-wrap: wrap; gap: 1px; max-width: 520px; }
.cell { width: 12px; height: 12px; background: var(--used); border-radius: 2px; }
.cell.free { background: var(--free); }
.cell.cpufree { background: var(--cpufree); }
.cell.sheaf { background: var(--sheaf); }
.kv meter { width: 80px; height: 12px; }
.cell.hl { outline: 2px solid var(--hl); background: var(--hl); }
.frozen { color: #0b6fb8; font-weight: 600; }
.over { color: var(--bad); }
.more { color: var(--muted); font-size: 12px; }
.legend { font-size: 12px; color: var(--muted); margin: 4px 0 8px; }
.legend .cell { display: inline-block; vertical-align: -2px; margin: 0 3px 0 10px; }
table.buddy td { text-align: right; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.chart { background: #fff; border: 1px solid var(--line); min-height: 220px; }
#live-counters { font-family: ui-monospace, monospace; font-size: 13px; }
#live-checks.ok { color: var(--ok); } #live-checks.bad { color: var(--bad); }
#buffers { display: flex; flex-wrap: wrap; gap: 8px; }
.sb { border: 1px solid var(--line); border-radius: 4px; padding: 4px 6px; background: #fff; min-width: 160px; }
.sb h4 { margin: 0 0 2px; font-size: 13px; }
.sb ol { margin: 0; padding-left: 18px; font-family: ui-monospace, monospace; font-size: 12px; }
.sb .sb-entry { background: #eef3fb; margin: 1px 0; }
.sb .sb-entry.passed { outline: 2px solid var(--bad); background: #fde2e3; }
.sb .wmb { list-style: none; margin-left: -18px; border-top: 2px dashed var(--fg); font-size: 11px; color: var(--muted); }
.sb .sb-flushed { list-style: none; margin-left: -18px; color: var(--ok); }
.sb.flushed { outline: 2px solid var(--hl); }
#step-accesses .note { font-size: 11px; padding: 0 3px; border-radius: 3px; background: #eef3fb; }
#step-accesses .note.stale, #step-accesses .note.past { background: #fde2e3; color: var(--bad); font-weight: 600; }
table.num td.b { font-family: ui-monospace, monospace; color: var(--used); }
`;
