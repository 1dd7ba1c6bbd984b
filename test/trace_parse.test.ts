// Reading one line of a kmem trace: each format variant the kernel and its tools print,
// what is not a kmem event, and malformed kmem lines with the reason given.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EV, LINE, LineParser } from '../src/trace/events.js';
import { Names } from '../src/trace/names.js';

const fixture = (name: string): string[] => readFileSync(`test/fixtures/traces/${name}`, 'latin1').split('\n');

/** Parse one line; the parser with its tables, and the kind. */
function read(line: string) {
  const p = new LineParser(new Names(), new Names());
  const u = Buffer.from(`junk before\n${line}\njunk after`, 'latin1');
  const kind = p.parse(u, 12, 12 + line.length);
  return { p, kind, ev: p.ev, site: p.sites.list[p.ev.site], name: p.ev.name >= 0 ? p.names.list[p.ev.name] : null };
}

const ptr = (ev: { ptrHi: number; ptrLo: number }): string =>
  ev.ptrHi.toString(16).padStart(8, '0') + ev.ptrLo.toString(16).padStart(8, '0');

describe('a kmem line of each kernel and tool', () => {
  it("reads the issue's four lines: kind, CPU, timestamp, call site, hashed pointer, sizes, gfp, node, name", () => {
    const lines = fixture('issue_example.trace');
    const a = read(lines[0]);
    expect(a.kind).toBe(LINE.kmem);
    expect([a.ev.kind, a.ev.cpu, a.ev.ts, a.site, ptr(a.ev), a.ev.bytesReq, a.ev.bytesAlloc, a.ev.atomic]).toEqual([
      EV.kmem_cache_alloc,
      0,
      312444.141956,
      '__alloc_file+0x28/0x110',
      '000000003ce0135a',
      256,
      256,
      false,
    ]);
    const b = read(lines[1]);
    expect([b.ev.kind, b.ev.cpu, b.ev.ts, b.site, b.ev.bytesReq, b.ev.bytesAlloc, b.ev.atomic, b.ev.node]).toEqual([
      EV.kmalloc,
      3,
      312444.111637,
      '__build_skb+0x24/0x60',
      224,
      256,
      true,
      -1,
    ]);
    const c = read(lines[2]);
    expect([c.ev.kind, c.ev.cpu, c.site, ptr(c.ev), c.name]).toEqual([
      EV.kmem_cache_free,
      1,
      '__fput+0x15a/0x250',
      '000000003ce0135a',
      'filp',
    ]);
    const d = read(lines[3]);
    expect([d.ev.kind, d.site, ptr(d.ev), d.name]).toEqual([EV.kfree, 'kfree_skbmem+0x9b/0xc0', '0000000003218205', null]);
  });

  it('reads 4.x lines: hex call sites, raw pointers, the _node events, no name on frees, a padded (null)', () => {
    const lines = fixture('ftrace_old.trace');
    const a = read(lines[0]);
    expect([a.ev.kind, a.site, ptr(a.ev), a.ev.bytesAlloc]).toEqual([EV.kmalloc, 'ffffffff811d0e8c', 'ffff88007a4b2e00', 64]);
    expect(read(lines[1]).ev.kind).toBe(EV.kmem_cache_alloc_node);
    const c = read(lines[2]);
    expect([c.ev.kind, c.ev.bytesReq, c.ev.bytesAlloc, c.ev.atomic, c.ev.node]).toEqual([EV.kmalloc_node, 1152, 2048, true, -1]);
    expect(read(lines[4]).name).toBeNull();
    const nul = read(lines[7]);
    expect([nul.kind, nul.ev.kind, ptr(nul.ev)]).toEqual([LINE.kmem, EV.kfree, '0000000000000000']);
  });

  it('reads 6.x lines with the tgid column, 5-letter flags, module suffixes on call sites', () => {
    const lines = fixture('ftrace_new.trace').filter((l) => l.includes('kmalloc:'));
    const leak = read(lines[0]);
    expect([leak.ev.cpu, leak.site, leak.ev.bytesReq, leak.ev.bytesAlloc]).toEqual([
      2,
      'leaky_init+0x1c/0x40 [memleak]',
      100,
      128,
    ]);
    const nf = read(lines[2]);
    expect([nf.ev.cpu, nf.site, nf.ev.atomic]).toEqual([1, 'nf_ct_ext_add+0x98/0x1b0 [nf_conntrack]', true]);
    const free = read(fixture('ftrace_new.trace').find((l) => l.includes('kfree: call_site=nf_ct')) ?? '');
    expect(free.site).toBe('nf_ct_ext_destroy+0x4a/0x60 [nf_conntrack]');
  });

  it("reads trace-cmd report: the kmem plugin's (symbol+off) names a hex call_site; 0x pointers; padded event names", () => {
    const lines = fixture('trace_cmd_report.txt');
    expect(read(lines[0]).kind).toBe(LINE.comment); // cpus=4
    const a = read(lines[1]);
    expect([a.kind, a.ev.kind, a.ev.cpu, a.site, ptr(a.ev)]).toEqual([
      LINE.kmem,
      EV.kmalloc,
      3,
      '__build_skb+0x24',
      'ffff888003218200',
    ]);
    expect(read(lines[3]).site).toBe('load_elf_binary+0x1f6/0x1970'); // a symbolic call_site is kept as printed
    expect(read(lines[4]).name).toBe('filp');
  });

  it('reads perf script: "comm pid", kmem:<event>, and a period column if one is printed', () => {
    const lines = fixture('perf_script.txt');
    const a = read(lines[0]);
    expect([a.kind, a.ev.kind, a.ev.cpu, a.site, a.p.prefixed]).toEqual([LINE.kmem, EV.kmalloc, 3, '__build_skb+0x24', true]);
    const period = read(lines[3].replace('312444.342791:', '312444.342791:          1'));
    expect([period.kind, period.ev.kind]).toEqual([LINE.kmem, EV.kfree]);
    const page = read(lines[4]);
    expect([page.kind, page.p.other]).toEqual([LINE.other, 'mm_page_alloc']);
  });

  it('takes fields in any order (the generic reader) and numbers a site and a name once', () => {
    const p = new LineParser(new Names(), new Names());
    const line = (s: string): number => p.parse(Buffer.from(s, 'latin1'), 0, s.length);
    expect(
      line(' x-1 [001] 5.000001: kmalloc: gfp_flags=GFP_NOWAIT bytes_alloc=64 ptr=0x10a0 call_site=f+0x1/0x2 bytes_req=60'),
    ).toBe(LINE.kmem);
    expect([p.ev.bytesAlloc, p.ev.bytesReq, p.ev.ptrLo, p.ev.atomic, p.sites.list[p.ev.site]]).toEqual([
      64,
      60,
      0x10a0,
      true,
      'f+0x1/0x2',
    ]);
    line(' x-1 [001] 5.000002: kmalloc: call_site=f+0x1/0x2 ptr=0x10b0 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL');
    expect([p.sites.list.length, p.ev.atomic]).toEqual([1, false]);
    // GFP_ATOMIC with a reclaim bit can sleep; a numeric value counts as GFP_KERNEL.
    line(
      ' x-1 [001] 5.000003: kmalloc: call_site=g ptr=0x10c0 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_ATOMIC|__GFP_DIRECT_RECLAIM',
    );
    expect(p.ev.atomic).toBe(false);
    line(' x-1 [001] 5.000004: kmalloc: call_site=g ptr=0x10c0 bytes_req=8 bytes_alloc=8 gfp_flags=0x400cc0');
    expect(p.ev.atomic).toBe(false);
  });
});

describe('lines that are not kmem events', () => {
  it('tells comments, lost events, other events and anything else apart', () => {
    expect(read('# tracer: nop').kind).toBe(LINE.comment);
    expect(read('   ').kind).toBe(LINE.comment);
    expect(read('version = 6').kind).toBe(LINE.comment);
    const lost = read('CPU:2 [LOST 1234 EVENTS]');
    expect([lost.kind, lost.p.lost]).toEqual([LINE.lost, 1234]);
    const other = read('  bash-1 [000] d..2. 10.000001: sched_switch: prev_comm=bash prev_pid=1');
    expect([other.kind, other.p.other]).toEqual([LINE.other, 'sched_switch']);
    expect(read('hello world').kind).toBe(LINE.unknown);
    expect(read('[12] not a trace line').kind).toBe(LINE.unknown);
  });

  it('calls a kmem line malformed, with the reason, when a field it needs is missing or bad', () => {
    const base =
      '  bash-1 [000] .... 10.000001: kmalloc: call_site=f+0x1/0x2 ptr=00000000deadbeef bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL';
    const cases: Array<[string, string]> = [
      [base.replace(' ptr=00000000deadbeef', ''), 'no ptr='],
      [base.replace('ptr=00000000deadbeef', 'ptr=zz'), 'ptr=zz is not a pointer'],
      [base.replace(' bytes_alloc=8', ''), 'no bytes_alloc='],
      [base.replace('bytes_alloc=8', 'bytes_alloc=x'), 'bytes_alloc is not a number'],
      [base.replace('bytes_req=8', 'bytes_req=?'), 'bytes_req is not a number'],
      [base.replace('call_site=f+0x1/0x2 ', ''), 'no call_site='],
      [base.replace('10.000001:', 'ten:'), 'cannot read the timestamp column'],
      [base.replace('[000]', ''), 'no [CPU] column'],
      [base.replace('ptr=00000000deadbeef', 'ptr=1234567890abcdef01'), 'ptr=1234567890abcdef01 is not a pointer'],
    ];
    for (const [line, reason] of cases) {
      const r = read(line);
      expect([r.kind, r.p.reason], line).toEqual([LINE.malformed, reason]);
    }
    expect(read(base).kind).toBe(LINE.kmem);
  });
});
