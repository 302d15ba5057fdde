/**
 * prime-ts/lm throughput beside eager PyTorch (bench/lm_ref.py, Debian python3-torch on the same
 * libtorch), same checkpoint, same token ids, same thread count, in one run:
 *
 *   score   logprobs() forward over a (B, T) prompt+response batch        → scored tokens/s (B·T)
 *   train   the same, plus backward of the summed response log-probs      → tokens/s
 *   sample  generate(): P prompts × n samples, temperature 1             → generated tokens/s
 *           'len'  : no stop tokens, every sample runs maxNewTokens (identical work on both sides)
 *           'stop' : 1/64 of the vocabulary are stop ids, samples end at different steps and
 *                    leave the batch; the PyTorch loop ends each sample after the same number of
 *                    tokens as prime-ts drew (as if its stop token came then): the same work
 *           both with generate's default loop (continuous batching, one native call per step;
 *           the decode weights made afresh in every call, as in an RL step, and for stops also
 *           reused across calls, as in evaluation)
 *           and with the left-padded loop that preceded it (`decodeLoop: 'padded'`, fused
 *           layers; "before" rows, same seed, same tokens)
 *
 * Shapes: a tiny model, a ~25M-parameter model, and a Qwen2.5-0.5B-shaped stack (its widths,
 * heads and 151,936-token vocabulary; 2 layers instead of 24 to fit the time).
 * Run: `node dist/bench/lm.js [tiny|25m|qwen] …` (all by default). Needs /usr/bin/python3 with torch
 * (`make bench-deps`); without it only prime-ts figures are printed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.js';
import { noGrad } from '../src/torch/index.js';
import { forwardFlops, generationFlops, sgemmPeakFlops } from '../src/prime/perf.js';
import { CausalLM, countParameters, generate, logprobs, makeConfig, packSequences, positionIdsFromMask, savePretrained, type ConfigSpec } from '../src/lm/index.js';

interface Shape {
  key: string;
  name: string;
  spec: ConfigSpec;
  score: { B: number; Lp: number; Lr: number };
  sample: { P: number; n: number; minLen: number; maxLen: number; maxNew: number };
  reps: number;
  ablations: boolean;
}

const SHAPES: Shape[] = [
  {
    key: 'tiny', name: 'tiny (D=64, L=2, V=1024)', reps: 5, ablations: true,
    spec: { modelType: 'qwen2', vocabSize: 1024, hiddenSize: 64, intermediateSize: 176, numLayers: 2, numHeads: 4, numKvHeads: 2, tieWordEmbeddings: true },
    score: { B: 16, Lp: 32, Lr: 96 },
    sample: { P: 8, n: 4, minLen: 8, maxLen: 32, maxNew: 128 },
  },
  {
    key: '25m', name: '~25M (D=512, L=6, H=8/4, V=16384)', reps: 3, ablations: true,
    spec: { modelType: 'qwen2', vocabSize: 16384, hiddenSize: 512, intermediateSize: 1408, numLayers: 6, numHeads: 8, numKvHeads: 4, tieWordEmbeddings: true },
    score: { B: 8, Lp: 64, Lr: 192 },
    sample: { P: 8, n: 4, minLen: 16, maxLen: 64, maxNew: 128 },
  },
  {
    key: 'qwen', name: 'Qwen2.5-0.5B shape, 2 layers (D=896, H=14/2, I=4864, V=151936)', reps: 2, ablations: false,
    spec: { modelType: 'qwen2', vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numLayers: 2, numHeads: 14, numKvHeads: 2, tieWordEmbeddings: true, ropeTheta: 1e6 },
    score: { B: 4, Lp: 64, Lr: 192 },
    sample: { P: 4, n: 4, minLen: 16, maxLen: 64, maxNew: 64 },
  },
];

const PY = '/usr/bin/python3';
const here = path.dirname(fileURLToPath(import.meta.url));
const REF = path.resolve(here, '../../bench/lm_ref.py');
const THREADS = torch.getNumThreads();

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
const randomIds = (r: () => number, len: number, V: number) => Array.from({ length: len }, () => Math.floor(r() * V));

/** As Python's statistics.median (the mean of the middle two for an even count). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}
/** Median wall and CPU seconds of `reps` runs after one warm-up. */
function timed<R>(reps: number, fn: () => R): [Time, R] {
  let r = fn();
  const wall: number[] = [], cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now(), c0 = process.cpuUsage();
    r = fn();
    const c = process.cpuUsage(c0);
    wall.push((performance.now() - t0) / 1000);
    cpu.push((c.user + c.system) / 1e6);
  }
  return [{ wall: median(wall), cpu: median(cpu) }, r];
}
interface Time { wall: number; cpu: number }
/** Work per second by wall clock and by CPU time (the latter is steadier on a shared machine). */
const rate = (work: number, t: Time) => ({ wall: work / t.wall, cpu: work / t.cpu });

const hasTorch = fs.existsSync(PY) && spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const only = process.argv.slice(2);
const rows: string[][] = [['shape', 'work', 'prime-ts', 'PyTorch', 'ratio', 'prime-ts/cpu-s', 'PyTorch/cpu-s', 'ratio (cpu)']];
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));

console.log(`prime-ts/lm benchmark — ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${THREADS} libtorch threads on both sides, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
if (!hasTorch) console.log('(no /usr/bin/python3 with torch: `make bench-deps` for the PyTorch side)');

for (const shape of SHAPES) {
  if (only.length && !only.includes(shape.key)) continue;
  const cfg = makeConfig(shape.spec);
  torch.manualSeed(0);
  const model = new CausalLM(cfg, { init: { kind: 'random', std: 0.02 } }).eval();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `prime-bench-lm-${shape.key}-`));
  savePretrained(dir, model);
  console.log(`\n== ${shape.name}: ${(countParameters(cfg) / 1e6).toFixed(1)}M parameters`);

  const r = rng(1234);
  const V = cfg.vocabSize;
  const sc = shape.score, sa = shape.sample;
  const sPrompts = Array.from({ length: sc.B }, () => randomIds(r, sc.Lp - Math.floor(r() * sc.Lp / 2), V));
  const sResps = Array.from({ length: sc.B }, () => randomIds(r, sc.Lr - Math.floor(r() * sc.Lr / 2), V));
  const batch = packSequences(sPrompts, sResps, 0);
  const scoreTokens = batch.inputIds.numel;
  const gPrompts = Array.from({ length: sa.P }, () => randomIds(r, sa.minLen + Math.floor(r() * (sa.maxLen - sa.minLen + 1)), V));
  const stopIds = Array.from({ length: Math.max(1, Math.floor(V / 64)) }, (_, i) => i);

  // ---- prime-ts
  const opts = { attentionMask: batch.attentionMask, responseMask: batch.responseMask, responseStart: batch.responseStart };
  const [tScore] = timed(shape.reps, () => noGrad(() => torch.dispose(logprobs(model, batch.inputIds, opts))));
  // the forward of scoring in parts (decoder, lm_head on the scored positions, log-softmax + gather),
  // each timed alone as PyTorch's side does: where the time goes (issue #14)
  const phases = noGrad(() => {
    const T = batch.inputIds.size(1), P0 = batch.responseStart, R = T - P0;
    const ids = batch.inputIds.narrow(1, 0, T - 1), mask = batch.attentionMask.narrow(1, 0, T - 1);
    const fwd = () => model.forward(ids, { positionIds: positionIdsFromMask(mask), maxPosition: T - 2, attentionMask: mask });
    const [dec, hidden] = timed(shape.reps, () => torch.tidy(() => torch.keep(fwd())));
    const h = hidden.narrow(1, P0 - 1, R);
    const [head, logits] = timed(shape.reps, () => model.logits(h));
    const targets = batch.inputIds.narrow(1, P0, R);
    const [lsm] = timed(shape.reps, () => torch.tokenLogprobs(logits, targets).dispose());
    torch.dispose([hidden, logits]);
    return { decoder: dec, lm_head: head, log_softmax: lsm };
  });
  const [tTrain] = timed(shape.reps, () => {
    torch.tidy(() => logprobs(model, batch.inputIds, opts).logprobs.sum().backward());
    model.zeroGrad();
  });
  // Each timed call makes the decode weights afresh (transposed / packed copies, `cachedDecodeWeights`),
  // as in an RL step, whose update changes the weights between rollouts; the "reused" row keeps them
  // (repeated calls on unchanged weights: evaluation, several micro-batches of one rollout).
  const sampleRun = (stop: number[], extra: Partial<Parameters<typeof generate>[2]> = {}, reuse = false) =>
    timed(shape.reps, () => {
      if (!reuse) model.releaseDecodeWeights();
      return generate(model, gPrompts, { n: sa.n, maxNewTokens: sa.maxNew, temperature: 1, stopTokenIds: stop, seed: 7, ...extra });
    });
  const genTokens = (s: ReturnType<typeof generate>) => s.reduce((a, x) => a + x.tokenIds.length, 0);
  const [tLen, outLen] = sampleRun([]);
  const [tStop, outStop] = sampleRun(stopIds);
  const [tStopReuse, outStopReuse] = sampleRun(stopIds, {}, true);
  if (genTokens(outStopReuse) !== genTokens(outStop)) throw new Error(`reused decode weights drew ${genTokens(outStopReuse)} tokens, fresh ones ${genTokens(outStop)}: not the same work`);
  const made = timed(shape.reps, () => {
    model.releaseDecodeWeights();
    return model.cachedDecodeWeights();
  });
  const dw = made[1];
  const decodeWeightsNote = `decode weights made in ${(1000 * made[0].wall).toFixed(0)} ms (${dw.transposed ? 'transposed copies, ' : ''}${((dw.packed ?? []).reduce((x, p) => x + (p?.bytes ?? 0), 0) / 2 ** 20).toFixed(0)} MiB packed for XNNPACK, ${dw.packedRows ? `≤ ${dw.packedRows} rows` : 'none'})`;
  model.releaseDecodeWeights();
  // the left-padded loop that preceded continuous batching (fused layers, cache rows index-selected), same run
  const [tLenPad, outLenPad] = sampleRun([], { decodeLoop: 'padded' });
  const [tStopPad, outStopPad] = sampleRun(stopIds, { decodeLoop: 'padded' });
  const ts = {
    score: rate(scoreTokens, tScore), train: rate(scoreTokens, tTrain),
    len: rate(genTokens(outLen), tLen), stop: rate(genTokens(outStop), tStop), stopReuse: rate(genTokens(outStopReuse), tStopReuse),
    lenPad: rate(genTokens(outLenPad), tLenPad), stopPad: rate(genTokens(outStopPad), tStopPad),
  };
  const abl: [string, { wall: number; cpu: number }][] = [];
  if (shape.ablations) {
    model.fused = false;
    const [a1, o1] = sampleRun([], { kvCache: 'prealloc' });
    const [a2, o2] = sampleRun([], { kvCache: 'cat' });
    const [a3] = timed(shape.reps, () => noGrad(() => torch.dispose(logprobs(model, batch.inputIds, opts))));
    model.fused = true;
    abl.push(['sample len, op-by-op, prealloc KV', rate(genTokens(o1), a1)], ['sample len, op-by-op, cat KV', rate(genTokens(o2), a2)], ['score fwd, op-by-op layers', rate(scoreTokens, a3)]);
  }

  // ---- PyTorch eager, same checkpoint and ids
  let py: Record<'score' | 'train' | 'len' | 'stop', { wall: number; cpu: number }> | null = null;
  let pyPhases: unknown = null;
  if (hasTorch) {
    const specFile = path.join(dir, 'bench.json');
    fs.writeFileSync(specFile, JSON.stringify({
      dir, threads: THREADS, reps: shape.reps,
      score: { profile: true, input_ids: batch.inputIds.toArray(), attention_mask: batch.attentionMask.toArray(), response_mask: batch.responseMask.toArray(), response_start: batch.responseStart },
    }));
    const run = (sample: object) => {
      fs.writeFileSync(path.join(dir, 'bench-s.json'), JSON.stringify({ dir, threads: THREADS, reps: shape.reps, sample }));
      return pyRun(path.join(dir, 'bench-s.json'));
    };
    const pScore = pyRun(specFile);
    pyPhases = (pScore as unknown as { score_phases?: unknown }).score_phases ?? null;
    const pLen = run({ prompts: gPrompts, n: sa.n, max_new: sa.maxNew, temperature: 1, stop_ids: [] });
    // the same per-sample lengths as prime-ts drew, so both sides do the same work
    const pStop = run({ prompts: gPrompts, n: sa.n, max_new: sa.maxNew, temperature: 1, stop_ids: [], lengths: outStop.map((x) => x.tokenIds.length) });
    const pt = (s: number, c: number) => ({ wall: s, cpu: c });
    py = {
      score: rate(scoreTokens, pt(pScore.score_s!, pScore.score_cpu!)), train: rate(scoreTokens, pt(pScore.train_s!, pScore.train_cpu!)),
      len: rate(pLen.sample_tokens!, pt(pLen.sample_s!, pLen.sample_cpu!)), stop: rate(pStop.sample_tokens!, pt(pStop.sample_s!, pStop.sample_cpu!)),
    };
  }
  const line = (work: string, k: keyof typeof ts) => {
    const a = ts[k], b = py?.[k === 'lenPad' ? 'len' : k === 'stopPad' || k === 'stopReuse' ? 'stop' : k];
    rows.push([shape.key, work, fmt(a.wall), b ? fmt(b.wall) : '—', b ? `${(a.wall / b.wall).toFixed(2)}×` : '—', fmt(a.cpu), b ? fmt(b.cpu) : '—', b ? `${(a.cpu / b.cpu).toFixed(2)}×` : '—']);
    console.log(`  ${work.padEnd(36)} wall: ${fmt(a.wall).padStart(7)} vs ${b ? fmt(b.wall).padStart(7) : '—'} ${b ? (a.wall / b.wall).toFixed(2) + '×' : ''}   cpu: ${fmt(a.cpu).padStart(7)} vs ${b ? fmt(b.cpu).padStart(7) : '—'} ${b ? (a.cpu / b.cpu).toFixed(2) + '×' : ''}`);
  };
  line(`score fwd tok/s (B=${sc.B}, T=${batch.inputIds.size(1)})`, 'score');
  {
    const pp = pyPhases as Record<keyof typeof phases, [number, number]> | null;
    const ms = (x: number) => `${(1000 * x).toFixed(1)}`;
    console.log('  score fwd by part, ms wall (cpu), prime-ts vs PyTorch: ' + (Object.keys(phases) as (keyof typeof phases)[]).map((k) =>
      `${k} ${ms(phases[k].wall)} (${ms(phases[k].cpu)})${pp ? ` vs ${ms(pp[k][0])} (${ms(pp[k][1])})` : ''}`).join(', ') +
      ` — whole scoring fwd ${ms(tScore.wall)}${py ? ` vs ${ms(scoreTokens / py.score.wall)}` : ''}`);
  }
  line('score fwd+bwd tok/s', 'train');
  line(`sample len tok/s (${sa.P}×${sa.n}, ${sa.maxNew} new)`, 'len');
  line(`sample stop tok/s (${genTokens(outStop)} tok)`, 'stop');
  line('sample stop, decode weights reused', 'stopReuse');
  console.log(`  (${decodeWeightsNote}; the sample rows above include it in every call)`);
  line('sample len, left-padded loop (before)', 'lenPad');
  line(`sample stop, left-padded loop (${genTokens(outStopPad)} tok)`, 'stopPad');
  for (const [name, v] of abl) console.log(`  ${name.padEnd(36)} wall: ${fmt(v.wall).padStart(7)}   cpu: ${fmt(v.cpu).padStart(7)}  (prime-ts)`);
  // MFU (src/prime/perf.ts): model FLOPs of the real (unpadded) tokens per second / this process's sgemm peak
  const peak = sgemmPeakFlops();
  const perTok = {
    score: sPrompts.reduce((a, p, i) => a + forwardFlops(cfg, p.length + sResps[i]!.length, { lmHeadTokens: sResps[i]!.length }), 0) / scoreTokens,
    len: outLen.reduce((a, x) => a + generationFlops(cfg, gPrompts[x.promptIndex]!.length, x.tokenIds.length), 0) / genTokens(outLen),
    stop: outStop.reduce((a, x) => a + generationFlops(cfg, gPrompts[x.promptIndex]!.length, x.tokenIds.length), 0) / genTokens(outStop),
  };
  const mfuOf = (k: 'score' | 'train' | 'len' | 'stop', side: Record<'score' | 'train' | 'len' | 'stop', Time> | null | undefined) => (side ? `${(100 * (k === 'train' ? 3 * perTok.score : perTok[k]) * side[k].wall / peak).toFixed(1)}%` : '—');
  console.log(`  MFU vs sgemm peak ${(peak / 1e9).toFixed(1)} GFLOP/s (prime-ts / PyTorch): ` +
    (['score', 'train', 'len', 'stop'] as const).map((k) => `${k} ${mfuOf(k, ts)} / ${mfuOf(k, py)}`).join(', '));

  torch.dispose(batch);
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
}

console.log('\nSummary (ratio > 1: prime-ts faster)');
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));

function pyRun(spec: string): Record<string, number> {
  const p = spawnSync(PY, [REF, spec], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (p.status !== 0) throw new Error(`lm_ref.py failed: ${p.stderr}`);
  return JSON.parse(p.stdout.trim().split('\n').pop()!);
}
