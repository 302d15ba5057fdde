/**
 * prime-ts/lm on a GPU beside Hugging Face transformers' own model code in eager PyTorch
 * (bench/device_lm_ref.py, the python3 that holds the CUDA torch), same checkpoint, same token
 * ids, same device and dtype, in one run (issue #13 item 4, #14 goals 3–4 on a GPU):
 *
 *   score   logprobs() forward over a (B, T) prompt+response batch → scored tokens/s (B·T)
 *   train   the same plus backward of the summed response log-probs → tokens/s
 *   sample  generate(): P prompts × n samples, temperature 1, every sample to maxNewTokens
 *           (no stop tokens: identical work on both sides) → generated tokens/s
 *
 * Model: the Qwen2.5-0.5B shape, all 24 layers (D=896, H=14/2, I=4864, V=151,936), random
 * weights, bfloat16. Times are medians of `reps` runs after a warm-up, each ended by a copy of
 * a result to the host (a device sync).
 * Run: PRIME_DEVICE=cuda node dist/bench/device-lm.js [layers=24] [reps=3]
 *   PYTHON (default python3) must have torch with CUDA and transformers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.js';
import { noGrad } from '../src/torch/index.js';
import { CausalLM, countParameters, generate, loadPretrained, logprobs, makeConfig, packSequences, savePretrained } from '../src/lm/index.js';
import type { Device } from '../src/lm/index.js';

const layers = Number(process.argv[2] ?? 24), reps = Number(process.argv[3] ?? 3);
const device = (process.env.PRIME_DEVICE ?? 'cuda') as Device;
const PY = process.env.PYTHON ?? 'python3';
const REF = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/device_lm_ref.py');
const spec = { modelType: 'qwen2' as const, vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numLayers: layers, numHeads: 14, numKvHeads: 2, tieWordEmbeddings: true, ropeTheta: 1e6 };
// SMOKE=1: a tiny workload, to check the bench end to end on a CPU
const [B, Lp, Lr, P, N, maxNew] = process.env.SMOKE === '1' ? [2, 16, 32, 2, 2, 8] : [16, 128, 384, 32, 4, 128];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
const randomIds = (r: () => number, len: number, V: number) => Array.from({ length: len }, () => Math.floor(r() * V));
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const h = Math.floor(s.length / 2); return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2; };
function timed<R>(fn: () => R): [number, R] {
  let r = fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); r = fn(); ts.push((performance.now() - t0) / 1000); }
  return [median(ts), r];
}

const cfg = makeConfig(spec);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-device-lm-'));
torch.manualSeed(0);
{
  const init = new CausalLM(cfg, { init: { kind: 'random', std: 0.02 }, dtype: 'bfloat16' });
  savePretrained(dir, init);
  init.dispose();
}
const lm = loadPretrained(dir, { dtype: 'bfloat16', device, tokenizer: false }).model.eval();
console.log(`prime-ts/lm on ${device}: Qwen2.5-0.5B shape, ${layers} layers, ${(countParameters(cfg) / 1e6).toFixed(0)}M parameters, bfloat16 (torch ${torch.version().libtorch})`);

const r = rng(1234);
const V = cfg.vocabSize;
const prompts = Array.from({ length: B }, () => randomIds(r, Lp - Math.floor(r() * Lp / 4), V));
const resps = Array.from({ length: B }, () => randomIds(r, Lr - Math.floor(r() * Lr / 4), V));
const batch = packSequences(prompts, resps, 0);
const tokens = batch.inputIds.numel;
const gPrompts = Array.from({ length: P }, () => randomIds(r, Lp / 4 + Math.floor(r() * Lp * 3 / 4), V));
const dev = <T extends torch.Tensor>(t: T) => t.to(device) as T;
const opts = { attentionMask: dev(batch.attentionMask), responseMask: dev(batch.responseMask), responseStart: batch.responseStart };
const ids = dev(batch.inputIds);
const [tScore] = timed(() => noGrad(() => torch.tidy(() => logprobs(lm, ids, opts).logprobs.sum().item())));
const [tTrain] = timed(() => {
  torch.tidy(() => logprobs(lm, ids, opts).logprobs.float().sum().backward());
  const g = torch.tidy(() => lm.parameters()[0]!.grad!.float().sum().item()); // waits for the backward
  lm.zeroGrad();
  return g;
});
const [tGen, out] = timed(() => generate(lm, gPrompts, { n: N, maxNewTokens: maxNew, temperature: 1, stopTokenIds: [], seed: 7 }));
const genTokens = out.reduce((a, x) => a + x.tokenIds.length, 0);
const ours = { score: tokens / tScore, train: tokens / tTrain, sample: genTokens / tGen };

fs.writeFileSync(path.join(dir, 'bench.json'), JSON.stringify({
  dir, device, reps, input_ids: batch.inputIds.toArray(), attention_mask: batch.attentionMask.toArray(),
  response_mask: batch.responseMask.toArray(), response_start: batch.responseStart, prompts: gPrompts, n: N, max_new: maxNew,
}));
const p = spawnSync(PY, [REF, path.join(dir, 'bench.json')], { encoding: 'utf8', maxBuffer: 1 << 26 });
let theirs: Record<string, number> | null = null;
// the peer reads everything from bench.json; it prints one JSON line
if (p.status === 0) {
  const j = JSON.parse(p.stdout.trim().split('\n').pop()!) as Record<string, number>;
  theirs = { score: tokens / j.score_s!, train: tokens / j.train_s!, sample: j.sample_tokens! / j.sample_s! };
  console.log(`transformers ${j.transformers_version ?? '?'} / torch ${j.torch_version ?? '?'} (eager, ${j.attn ?? '?'} attention) on the same device`);
} else console.log(`(no peer: ${PY} bench/device_lm_ref.py failed: ${p.stderr.slice(-600)})`);
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));
for (const [k, label] of [['score', `score fwd tok/s (B=${B}, T=${batch.inputIds.size(1)})`], ['train', 'score fwd+bwd tok/s'], ['sample', `sample tok/s (${P}×${N}, ${maxNew} new)`]] as const) {
  const a = ours[k], b = theirs?.[k];
  console.log(`  ${label.padEnd(34)} prime-ts ${fmt(a).padStart(8)}   transformers ${b ? fmt(b).padStart(8) : '—'}   ${b ? (a / b).toFixed(2) + '×' : ''}`);
}
torch.dispose(batch);
lm.dispose();
fs.rmSync(dir, { recursive: true, force: true });
