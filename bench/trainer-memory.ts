/**
 * Peak memory and step time of whole PRIME training steps (rollout, reference + PRM scoring, PRM
 * update, PPO update) with three models of SmolLM2-135M's shape (Llama; D=576, 30 layers, 9 heads
 * / 3 kv heads, I=1536, V=49152, tied embeddings; random weights, the demo's character tokenizer
 * and arithmetic prompts), in float32 and in bf16 mixed precision (`model.dtype: bfloat16`: policy
 * and PRM in bf16 with float32 master weights and AdamW state, the reference in bf16), optionally
 * with activation checkpointing (`actor/prm.gradient_checkpointing`).
 *
 * Each set-up runs in its own child process (peak RSS = the child's getrusage maxrss: weights,
 * masters, optimizer states, activations, libtorch); one warm-up step, then `steps` timed steps
 * (median of time/step and its phases). The same seed in every set-up; bf16 samples different
 * tokens, so response lengths are printed beside the times.
 * Run: `node dist/bench/trainer-memory.js [prompts] [n] [max_response] [steps]` (default 2 4 48 1);
 * PRIME_NATIVE picks the libtorch build.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SETUPS = [
  { name: 'fp32', dtype: 'float32', ckpt: false },
  { name: 'bf16 + masters', dtype: 'bfloat16', ckpt: false },
  { name: 'bf16 + masters + ckpt', dtype: 'bfloat16', ckpt: true },
] as const;

async function child(setup: number, prompts: number, n: number, maxResp: number, steps: number): Promise<void> {
  const torch = await import('../src/torch/index.js');
  const { CausalLM, makeConfig, savePretrained } = await import('../src/lm/index.js');
  const { configFromObject } = await import('../src/prime/config.js');
  const { PrimeTrainer } = await import('../src/prime/trainer.js');
  const { writeCharTokenizer, SPECIAL_TOKENS } = await import('../src/prime/demo/tokenizer.js');
  const { writeDemoData, DEMO } = await import('../src/prime/demo/run.js');
  const s = SETUPS[setup]!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-trainer-memory-'));
  try {
    writeCharTokenizer(path.join(dir, 'model'));
    torch.manualSeed(0);
    const config = makeConfig({
      modelType: 'llama', vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9, numKvHeads: 3,
      tieWordEmbeddings: true, ropeTheta: 100000, maxPositionEmbeddings: 512,
      eosTokenId: SPECIAL_TOKENS.indexOf('<|im_end|>'), padTokenId: SPECIAL_TOKENS.indexOf('<|endoftext|>'),
    });
    const init = new CausalLM(config);
    savePretrained(path.join(dir, 'model'), init);
    init.dispose();
    const files = await writeDemoData({ ...DEMO, dir, nTrain: 256, nTest: 4 });
    const N = prompts * n;
    const cfg = configFromObject({
      model: { path: path.join(dir, 'model'), dtype: s.dtype },
      data: { train_files: [files.train], max_prompt_length: 96, max_response_length: maxResp, seed: 1 },
      rollout: { n, batch_prompts: prompts, micro_batch: N, oversample: 1 },
      filter: { enable: false },
      algorithm: { advantage: 'prime', beta: 0.05, prm_update: 'after' },
      actor: { lr: 1e-6, mini_batch: N, micro_batch: N, gradient_checkpointing: s.ckpt },
      prm: { lr: 1e-6, mini_batch: N, micro_batch: N, gradient_checkpointing: s.ckpt },
      trainer: { total_steps: steps + 1, save_every: 0, seed: 1, output_dir: path.join(dir, 'run') },
    } as never);
    const t = await PrimeTrainer.create(cfg, { log: () => {} });
    const rssAfterInit = process.memoryUsage().rss;
    const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
    const cpuPerStep: number[] = [];
    let c0 = cpu();
    const ms = await t.train({ onStep: (_s, m) => { const c = cpu(); m.cpu = c - c0; cpuPerStep.push(c - c0); c0 = c; } });
    t.dispose();
    const med = (k: string) => {
      const xs = ms.slice(1).map((m) => m[k] ?? 0).sort((a, b) => a - b);
      return xs[Math.floor((xs.length - 1) / 2)]!;
    };
    process.stdout.write(JSON.stringify({
      setup: s.name, libtorch: torch.version().libtorch, params: t.policy.numParameters(),
      peakRssMiB: process.resourceUsage().maxRSS / 1024, initRssMiB: rssAfterInit / 2 ** 20,
      stepS: med('time/step'), rolloutS: med('time/rollout'), scoreS: med('time/score_prm'), policyS: med('time/policy_update'),
      tokens: med('batch/response_tokens'), cpuS: med('cpu'),
    }) + '\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const [prompts, n, maxResp, steps] = [2, 4, 48, 1].map((d, i) => Number(process.argv[2 + i] ?? d)) as [number, number, number, number];
  const rows: Record<string, number | string>[] = [];
  for (let i = 0; i < SETUPS.length; i++) {
    const p = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', String(i), String(prompts), String(n), String(maxResp), String(steps)], { encoding: 'utf8', env: { PRIME_SGEMM_PEAK_GFLOPS: '100', ...process.env } });
    if (p.status !== 0) throw new Error(`${SETUPS[i]!.name}: ${p.stderr}`);
    rows.push(JSON.parse(p.stdout.trim().split('\n').pop()!));
  }
  const f = (x: number | string, d = 1) => (x as number).toFixed(d);
  console.log(`PRIME steps, three SmolLM2-135M-shaped models (${f((rows[0]!.params as number) / 1e6)}M parameters each), ${prompts} prompts × ${n} samples, ≤${maxResp} response tokens, libtorch ${rows[0]!.libtorch}; median of ${steps} step(s) after a warm-up`);
  console.log('set-up                   RSS after load MiB  peak RSS MiB  step s  CPU s  rollout s  score+PRM s  policy s  resp. tokens');
  for (const r of rows)
    console.log(`${String(r.setup).padEnd(25)}${f(r.initRssMiB!, 0).padStart(18)}${f(r.peakRssMiB!, 0).padStart(14)}${f(r.stepS!).padStart(8)}${f(r.cpuS!).padStart(7)}${f(r.rolloutS!).padStart(11)}${f(r.scoreS!).padStart(13)}${f(r.policyS!).padStart(10)}${f(r.tokens!, 0).padStart(14)}`);
  const b = rows[0]!;
  for (const r of rows.slice(1))
    console.log(`${r.setup} vs fp32: peak RSS ${((r.peakRssMiB as number) / (b.peakRssMiB as number)).toFixed(2)}×, step ${((r.stepS as number) / (b.stepS as number)).toFixed(2)}× (CPU ${((r.cpuS as number) / (b.cpuS as number)).toFixed(2)}×), score+PRM+policy ${(((r.scoreS as number) + (r.policyS as number)) / ((b.scoreS as number) + (b.policyS as number))).toFixed(2)}×`);
}

const i = process.argv.indexOf('--child');
if (i >= 0) await child(...(process.argv.slice(i + 1, i + 6).map(Number) as [number, number, number, number, number]));
else main();
