/**
 * Peak memory and step time of one policy training step (forward, backward of the summed
 * per-token log-probs, AdamW step) on a model of SmolLM2-135M's shape (Llama; D=576, 30 layers,
 * 9 heads / 3 kv heads, I=1536, V=49152, tied embeddings; random weights), in four set-ups:
 *
 *   fp32            float32 weights, grads, AdamW state
 *   fp32 + ckpt     the same with activation checkpointing per decoder layer
 *   bf16 + master   bfloat16 weights/activations, float32 master weights and AdamW state (MasterWeights)
 *   bf16 + master + ckpt
 *
 * Each set-up runs in its own child process (peak RSS = the child's getrusage maxrss, which
 * includes the weights, optimizer state, activations and libtorch itself), one warm-up step, then
 * the median of `reps` timed steps. Run: `node dist/bench/memory.js [B] [T] [reps]` (default 4 × 256, 2);
 * PRIME_NATIVE picks the libtorch build.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SETUPS = [
  { name: 'fp32', dtype: 'float32', ckpt: false },
  { name: 'fp32 + ckpt', dtype: 'float32', ckpt: true },
  { name: 'bf16 + master', dtype: 'bfloat16', ckpt: false },
  { name: 'bf16 + master + ckpt', dtype: 'bfloat16', ckpt: true },
] as const;

async function child(setup: number, B: number, T: number, reps: number): Promise<void> {
  const torch = await import('../src/torch/index.js');
  const { CausalLM, logprobs, makeConfig, countParameters } = await import('../src/lm/index.js');
  const s = SETUPS[setup]!;
  torch.manualSeed(0);
  const config = makeConfig({ modelType: 'llama', vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9, numKvHeads: 3, tieWordEmbeddings: true, ropeTheta: 100000 });
  const model = new CausalLM(config, { dtype: s.dtype });
  model.gradientCheckpointing = s.ckpt;
  const mw = s.dtype === 'float32' ? null : new torch.MasterWeights(model.parameters());
  const opt = new torch.AdamW(mw ? mw.master : model.parameters(), { lr: 1e-5 });
  const ids = torch.randint(0, 49152, [B, T]);
  const rssAfterInit = process.memoryUsage().rss;
  const step = () => {
    torch.tidy(() => logprobs(model, ids).logprobs.sum().backward());
    if (mw) mw.gradsToMaster();
    opt.step();
    if (mw) mw.masterToParams();
    opt.zeroGrad();
    model.zeroGrad();
  };
  step(); // warm-up: allocates AdamW's first moments' pages and the allocator's cache
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    step();
    ts.push((performance.now() - t0) / 1000);
  }
  ts.sort((a, b) => a - b);
  const out = {
    setup: s.name, params: countParameters(config), libtorch: torch.version().libtorch,
    peakRssMiB: process.resourceUsage().maxRSS / 1024, initRssMiB: rssAfterInit / 2 ** 20, stepS: ts[Math.floor((ts.length - 1) / 2)]!,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

function main(): void {
  const [B, T, reps] = [Number(process.argv[2] ?? 4), Number(process.argv[3] ?? 256), Number(process.argv[4] ?? 2)];
  const rows: { setup: string; params: number; libtorch: string; peakRssMiB: number; initRssMiB: number; stepS: number }[] = [];
  for (let i = 0; i < SETUPS.length; i++) {
    const p = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', String(i), String(B), String(T), String(reps)], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`${SETUPS[i]!.name}: ${p.stderr}`);
    rows.push(JSON.parse(p.stdout.trim().split('\n').pop()!));
  }
  console.log(`SmolLM2-135M shape (${(rows[0]!.params / 1e6).toFixed(1)}M parameters), batch ${B} × ${T} tokens, libtorch ${rows[0]!.libtorch}, AdamW; median of ${reps} steps`);
  console.log('set-up                  RSS after init MiB  peak RSS MiB  step s   tokens/s');
  for (const r of rows) console.log(`${r.setup.padEnd(24)}${r.initRssMiB.toFixed(0).padStart(18)}${r.peakRssMiB.toFixed(0).padStart(14)}${r.stepS.toFixed(2).padStart(8)}${((B * T) / r.stepS).toFixed(0).padStart(11)}`);
  const base = rows[0]!;
  for (const r of rows.slice(1)) console.log(`${r.setup} vs fp32: peak RSS ${(r.peakRssMiB / base.peakRssMiB).toFixed(2)}×, step time ${(r.stepS / base.stepS).toFixed(2)}×`);
}

const i = process.argv.indexOf('--child');
if (i >= 0) await child(Number(process.argv[i + 1]), Number(process.argv[i + 2]), Number(process.argv[i + 3]), Number(process.argv[i + 4]));
else main();
