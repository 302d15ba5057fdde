/**
 * `prime plot RUN_DIR… [--out FILE]`: the curves of one or several runs' metrics.jsonl side by
 * side, one panel per metric, one series per run (SVG, drawn by demo/plot.ts; legends sit below
 * each plot area). PNG output goes through the first working renderer among `rsvg-convert`
 * (librsvg), ImageMagick's `magick` and `convert`; with none, the SVG is written instead and the
 * result says so (`ok: false`, a warning naming what to install).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { lineChartsSvg, type Panel } from './demo/plot.js';

/** Metrics drawn by default (those present in some run), then every val/* metric (but val/prompts) and reward/<term>. */
export const DEFAULT_PLOT_METRICS = [
  'rollout/accuracy', 'reward/outcome_mean', 'reward/process_mean', 'prm/accuracy', 'prm/loss',
  'actor/pg_loss', 'actor/approx_kl', 'actor/entropy', 'actor/kl_ref', 'filter/kept_fraction',
  'response/length_mean', 'throughput/tokens_per_s',
];

export interface RunMetrics {
  name: string;
  file: string;
  records: Record<string, number>[];
}

/** Reads RUN_DIR/metrics.jsonl (or a .jsonl file given directly); errors name the path. */
export function readRun(dirOrFile: string): RunMetrics {
  const file = dirOrFile.endsWith('.jsonl') ? dirOrFile : path.join(dirOrFile, 'metrics.jsonl');
  if (!fs.existsSync(file)) throw new Error(`${dirOrFile}: no metrics.jsonl (expected ${file}; is it a run's trainer.output_dir?)`);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const records: Record<string, number>[] = [];
  lines.forEach((l, i) => {
    if (!l.trim()) return;
    let r: unknown;
    try {
      r = JSON.parse(l);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not JSON: ${(e as Error).message}`);
    }
    if (r === null || typeof r !== 'object' || typeof (r as { step?: unknown }).step !== 'number') throw new Error(`${file}:${i + 1}: expected an object with a numeric 'step'`);
    records.push(r as Record<string, number>);
  });
  const base = path.basename(dirOrFile.endsWith('.jsonl') ? path.dirname(path.resolve(dirOrFile)) : path.resolve(dirOrFile));
  return { name: base, file, records };
}

/** Selects metric names: `spec` = comma-separated names or prefixes ('val/' or 'val/*'); default: see DEFAULT_PLOT_METRICS. */
export function selectMetrics(runs: RunMetrics[], spec?: string): string[] {
  const present = new Set<string>();
  for (const r of runs) for (const rec of r.records) for (const [k, v] of Object.entries(rec)) if (k !== 'step' && typeof v === 'number') present.add(k);
  const sorted = [...present].sort();
  if (spec !== undefined) {
    const out: string[] = [];
    for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
      const prefix = part.endsWith('*') ? part.slice(0, -1) : part.endsWith('/') ? part : null;
      const hits = prefix !== null ? sorted.filter((k) => k.startsWith(prefix)) : present.has(part) ? [part] : [];
      if (hits.length === 0) throw new Error(`--metrics: no run has '${part}' (metrics present: ${sorted.join(', ')})`);
      for (const h of hits) if (!out.includes(h)) out.push(h);
    }
    return out;
  }
  const picked = DEFAULT_PLOT_METRICS.filter((k) => present.has(k));
  const extra = (k: string) => (k.startsWith('val/') && k !== 'val/prompts') || (k.startsWith('reward/') && !k.startsWith('reward/process_'));
  for (const k of sorted) if (extra(k) && !picked.includes(k)) picked.push(k);
  return picked.length > 0 ? picked : sorted.slice(0, 24);
}

/** One panel per metric, one series per run (points at the steps where the run logged it). */
export function runPanels(runs: RunMetrics[], metrics: string[]): Panel[] {
  return metrics.map((k) => ({
    title: k,
    series: runs.map((r) => ({
      name: r.name,
      points: r.records.filter((rec) => typeof rec[k] === 'number' && Number.isFinite(rec[k])).map((rec) => [rec.step!, rec[k]!] as [number, number]),
    })),
  }));
}

/** Distinct display names: basenames, or parent/basename where basenames repeat. */
function nameRuns(runs: RunMetrics[], args: string[]): void {
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
  runs.forEach((r, i) => {
    if (counts.get(r.name)! > 1) r.name = path.relative(process.cwd(), path.resolve(args[i]!)) || r.name;
  });
}

export interface PlotOptions {
  out?: string;
  metrics?: string;
  columns?: number;
}
export interface PlotResult {
  ok: boolean;
  runs: number;
  panels: number;
  written: string[];
  warnings: string[];
}

/** Draws the runs' curves into `out` (.svg, or .png through a renderer). */
export async function plotRuns(dirs: string[], o: PlotOptions = {}): Promise<PlotResult> {
  if (dirs.length === 0) throw new Error('prime plot: no run directory given');
  const runs = dirs.map(readRun);
  nameRuns(runs, dirs);
  const metrics = selectMetrics(runs, o.metrics);
  const panels = runPanels(runs, metrics);
  const title = runs.length === 1 ? runs[0]!.name : runs.map((r) => r.name).join(' vs ');
  const svg = lineChartsSvg(panels, { perRow: Math.min(o.columns ?? 3, panels.length), title });
  const out = o.out ?? (runs.length === 1 ? path.join(dirs[0]!.endsWith('.jsonl') ? path.dirname(dirs[0]!) : dirs[0]!, 'metrics.svg') : 'runs.svg');
  const ext = path.extname(out).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') throw new Error(`--out ${out}: expected a .svg or .png file name`);
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  if (ext === '.svg') {
    fs.writeFileSync(out, svg);
    return { ok: true, runs: runs.length, panels: panels.length, written: [out], warnings: [] };
  }
  const svgFile = out.slice(0, -4) + '.svg';
  fs.writeFileSync(svgFile, svg);
  const r = svgToPng(svgFile, out);
  if (r.ok) {
    fs.rmSync(svgFile, { force: true });
    return { ok: true, runs: runs.length, panels: panels.length, written: [out], warnings: [] };
  }
  return {
    ok: false, runs: runs.length, panels: panels.length, written: [svgFile],
    warnings: [`no PNG renderer worked (${r.tried.join('; ')}); wrote ${svgFile} instead. Install librsvg2-bin (rsvg-convert) or ImageMagick for PNG output.`],
  };
}

const isPng = (file: string) => {
  try {
    const fd = fs.openSync(file, 'r');
    const b = Buffer.alloc(8);
    fs.readSync(fd, b, 0, 8, 0);
    fs.closeSync(fd);
    return b.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  } catch {
    return false;
  }
};

/**
 * Converts an SVG file to PNG with the first renderer that works (the output must start with the
 * PNG signature); returns which were tried and why each failed.
 */
export function svgToPng(svgFile: string, pngFile: string, renderers: [string, string[]][] = [
  ['rsvg-convert', ['-b', 'white', '-o', pngFile, svgFile]],
  ['magick', [svgFile, pngFile]],
  ['convert', [svgFile, pngFile]],
]): { ok: boolean; renderer?: string; tried: string[] } {
  const tried: string[] = [];
  for (const [cmd, args] of renderers) {
    fs.rmSync(pngFile, { force: true });
    const p = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
    if (p.error) {
      tried.push(`${cmd}: ${(p.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : p.error.message}`);
      continue;
    }
    if (p.status === 0 && isPng(pngFile)) return { ok: true, renderer: cmd, tried };
    tried.push(`${cmd}: ${p.status !== 0 ? `exit ${p.status}${p.stderr ? `: ${p.stderr.trim().split('\n')[0]}` : ''}` : 'wrote no PNG'}`);
  }
  fs.rmSync(pngFile, { force: true });
  return { ok: false, tried };
}
