import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lineChartsSvg } from '../../src/prime/demo/plot.js';
import { plotRuns, selectMetrics, svgToPng, type RunMetrics } from '../../src/prime/plot.js';

type Box = { x0: number; y0: number; x1: number; y1: number };
const intersects = (a: Box, b: Box) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
const num = (s: string, attr: string) => Number(new RegExp(`\\b${attr}="([-\\d.]+)"`).exec(s)![1]);

/** Plot areas, the bounding boxes of the series' polylines, and legend boxes (text extents estimated at 10px font). */
function geometry(svg: string) {
  const areas = [...svg.matchAll(/<rect class="plot-area"[^>]*>/g)].map(([r]) => {
    const x = num(r, 'x'), y = num(r, 'y');
    return { x0: x, y0: y, x1: x + num(r, 'width'), y1: y + num(r, 'height') };
  });
  const series = [...svg.matchAll(/<path class="series" d="([^"]+)"/g)].map(([, d]) => {
    const pts = [...d!.matchAll(/[ML]([-\d.]+),([-\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    return { x0: Math.min(...pts.map((p) => p[0])), y0: Math.min(...pts.map((p) => p[1])), x1: Math.max(...pts.map((p) => p[0])), y1: Math.max(...pts.map((p) => p[1])) };
  });
  const legends = [...svg.matchAll(/<g class="legend">(.*?)<\/g>/g)].map(([, g]) => {
    const line = /<line[^>]*>/.exec(g!)![0];
    const text = /<text([^>]*)>([^<]*)<\/text>/.exec(g!)!;
    const tx = num(text[1]!, 'x'), ty = num(text[1]!, 'y');
    return { x0: num(line, 'x1'), y0: ty - 10, x1: tx + 6 * text[2]!.length, y1: ty + 3 };
  });
  return { areas, series, legends };
}

test('legends sit outside every plot area, so they never cover a curve', () => {
  // curves that fill the whole plot area, including its top-left corner where legends used to be
  const full = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => [i, f(i)] as [number, number]);
  const svg = lineChartsSvg([
    { title: 'a', series: [{ name: 'falling from the top-left corner', points: full(50, (i) => 1 - i / 49) }, { name: 'rising', points: full(50, (i) => i / 49) }] },
    { title: 'b', series: [{ name: 'flat at the top', points: full(10, () => 1) }, { name: 'zig', points: full(10, (i) => i % 2) }, { name: 'third', points: full(10, () => 0.5) }] },
    { title: 'c', series: [{ name: 'one', points: full(5, (i) => i * i) }] },
  ], { perRow: 2, title: 't' });
  const g = geometry(svg);
  assert.equal(g.areas.length, 3);
  assert.equal(g.series.length, 6);
  assert.equal(g.legends.length, 6);
  for (const s of g.series) assert.ok(g.areas.some((a) => s.x0 >= a.x0 - 0.1 && s.x1 <= a.x1 + 0.1 && s.y0 >= a.y0 - 0.1 && s.y1 <= a.y1 + 0.1), 'each curve lies inside a plot area');
  for (const l of g.legends) {
    for (const a of g.areas) assert.ok(!intersects(l, a), `legend ${JSON.stringify(l)} overlaps plot area ${JSON.stringify(a)}`);
    for (const s of g.series) assert.ok(!intersects(l, s), 'legend overlaps a curve');
  }
  // and the legends stay inside the image
  const H = num(/<svg[^>]*>/.exec(svg)![0], 'height');
  for (const l of g.legends) assert.ok(l.y1 <= H, `legend bottom ${l.y1} within height ${H}`);
});

test('selectMetrics: defaults, val/* and reward/* metrics, prefixes, and an error naming what exists', () => {
  const runs: RunMetrics[] = [{ name: 'r', file: 'f', records: [{ step: 1, 'rollout/accuracy': 0.5, 'val/accuracy': 0.4, 'reward/math': 1, 'time/step': 2 }] }];
  assert.deepEqual(selectMetrics(runs), ['rollout/accuracy', 'reward/math', 'val/accuracy']);
  assert.deepEqual(selectMetrics(runs, 'val/,time/*'), ['val/accuracy', 'time/step']);
  assert.throws(() => selectMetrics(runs, 'actor/pg_loss'), /no run has 'actor\/pg_loss' \(metrics present: .*rollout\/accuracy/);
});

test('PNG output: the first renderer that writes a PNG wins; with none, the SVG is written and the result says so', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-plot-'));
  try {
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '{"step":1,"rollout/accuracy":0.1}\n{"step":2,"rollout/accuracy":0.3}\n');
    const svg = path.join(dir, 'x.svg');
    fs.writeFileSync(svg, '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
    const none = svgToPng(svg, path.join(dir, 'x.png'), [['prime-no-such-renderer', []], ['false', []]]);
    assert.equal(none.ok, false);
    assert.deepEqual(none.tried, ['prime-no-such-renderer: not installed', 'false: exit 1']);
    assert.ok(!fs.existsSync(path.join(dir, 'x.png')));
    // a "renderer" that writes the PNG signature
    const fake = path.join(dir, 'fake.sh');
    fs.writeFileSync(fake, `#!/bin/sh\nprintf '\\211PNG\\r\\n\\032\\n' > "$2"\n`, { mode: 0o755 });
    const ok = svgToPng(svg, path.join(dir, 'x.png'), [['false', []], [fake, [svg, path.join(dir, 'x.png')]]]);
    assert.equal(ok.ok, true);
    assert.equal(ok.renderer, fake);
    // plotRuns to .png: either a real renderer produced it, or the SVG is there and a warning says why
    const r = await plotRuns([dir], { out: path.join(dir, 'p.png') });
    if (r.ok) assert.deepEqual(r.written, [path.join(dir, 'p.png')]);
    else {
      assert.deepEqual(r.written, [path.join(dir, 'p.svg')]);
      assert.ok(fs.existsSync(path.join(dir, 'p.svg')));
      assert.match(r.warnings[0]!, /no PNG renderer worked \(rsvg-convert: .*; wrote .*p\.svg instead/);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
