/**
 * Benchmark: one small transformer training step in prime-ts/torch against the same step in
 * PyTorch (Debian's python3-torch, the same libtorch underneath), in one command run
 * (`make bench-torch`). Not a test: it prints figures and exits 0 unless something fails.
 *
 * The model is GPT-style and identical op for op to bench/torch_step.py: token + learned
 * position embedding, L pre-LayerNorm blocks (causal multi-head attention, GELU MLP of width
 * 4·D), final LayerNorm, untied LM head; mean cross-entropy, backward, AdamW, drop gradients.
 *
 * Legend: B batch, T tokens, D model width, H heads, Dh = D / H, V vocab, L layers.
 *
 * The two implementations run alternately for `--rounds` rounds (Python, then prime-ts), each
 * round doing `--warmup` untimed steps then `--steps` timed ones, so a load change on a shared
 * machine hits both alike. Reported: the median step time over all timed steps of each, their
 * ratio (prime-ts / PyTorch; the target is ≤ 1.05), the median CPU time per step (all threads;
 * steadier than wall time when other processes compete for the cores — with 2 threads, an
 * OpenMP region whose second thread waits for a core can take milliseconds), sgemm GFLOPS
 * (1024×1024) for both, and the losses of the first and last step (same seed, same
 * initialization order: they agree to the printed digits).
 *
 * Options: --threads 2 --layers 4 --width 256 --heads 4 --batch 16 --tokens 128 --vocab 1024
 *          --warmup 3 --steps 10 --rounds 2 --python /usr/bin/python3
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.js';
import { Embedding, LayerNorm, Linear, Module, type Tensor } from '../src/torch/index.js';

interface Config {
  threads: number; layers: number; width: number; heads: number; batch: number; tokens: number;
  vocab: number; warmup: number; steps: number; rounds: number; seed: number;
}

function parseArgs(argv: string[]): Config & { python: string } {
  const cfg = { threads: 2, layers: 4, width: 256, heads: 4, batch: 16, tokens: 128, vocab: 1024, warmup: 3, steps: 10, rounds: 2, seed: 0, python: '/usr/bin/python3' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '') as keyof typeof cfg;
    if (!(key in cfg) || argv[i + 1] === undefined) throw new Error(`unknown or valueless option ${argv[i]}`);
    (cfg as Record<string, number | string>)[key] = key === 'python' ? argv[i + 1]! : Number(argv[i + 1]);
  }
  return cfg;
}

class Block extends Module {
  ln1: LayerNorm; qkv: Linear; proj: Linear; ln2: LayerNorm; fc: Linear; out: Linear;
  constructor(readonly D: number, readonly H: number) {
    super();
    this.ln1 = this.child('ln1', new LayerNorm(D));
    this.qkv = this.child('qkv', new Linear(D, 3 * D));
    this.proj = this.child('proj', new Linear(D, D));
    this.ln2 = this.child('ln2', new LayerNorm(D));
    this.fc = this.child('fc', new Linear(D, 4 * D));
    this.out = this.child('out', new Linear(4 * D, D));
  }
  attention(x: Tensor): Tensor {
    const [B, T, D] = x.shape as [number, number, number];
    const Dh = D / this.H;
    const [q, k, v] = this.qkv.forward(this.ln1.forward(x)).split(D, -1).map(
      (t) => t.view(B, T, this.H, Dh).transpose(1, 2), // (B, H, T, Dh)
    ) as [Tensor, Tensor, Tensor];
    const y = torch.scaledDotProductAttention(q, k, v, { isCausal: true }); // (B, H, T, Dh)
    return this.proj.forward(y.transpose(1, 2).reshape(B, T, D));
  }
  forward(x: Tensor): Tensor {
    const h = x.add(this.attention(x));
    return h.add(this.out.forward(this.fc.forward(this.ln2.forward(h)).gelu()));
  }
}

/** Like nn.ModuleList: children named '0', '1', … (so parameter names read blocks.0.ln1.weight). */
class ModuleList extends Module {
  constructor(ms: Module[]) {
    super();
    ms.forEach((m, i) => this.child(String(i), m));
  }
}

class GPT extends Module {
  tok: Embedding; pos: Embedding; blocks: Block[]; lnF: LayerNorm; head: Linear;
  constructor(V: number, T: number, D: number, H: number, L: number) {
    super();
    this.tok = this.child('tok', new Embedding(V, D));
    this.pos = this.child('pos', new Embedding(T, D));
    this.blocks = Array.from({ length: L }, () => new Block(D, H));
    this.child('blocks', new ModuleList(this.blocks));
    this.lnF = this.child('ln_f', new LayerNorm(D));
    this.head = this.child('head', new Linear(D, V, { bias: false }));
  }
  /** ids (B, T) → logits (B, T, V) */
  forward(ids: Tensor): Tensor {
    const T = ids.size(1);
    let x = this.tok.forward(ids).add(this.pos.forward(torch.arange(T)));
    for (const b of this.blocks) x = b.forward(x);
    return this.head.forward(this.lnF.forward(x));
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Median sgemm GFLOPS of an n×n float32 matmul. */
function sgemmGflops(n = 1024, reps = 20): number {
  const [a, b] = [torch.keep(torch.randn([n, n])), torch.keep(torch.randn([n, n]))];
  const times: number[] = [];
  for (let i = 0; i < reps + 3; i++) {
    const t0 = performance.now();
    torch.tidy(() => void a.matmul(b));
    if (i >= 3) times.push((performance.now() - t0) / 1000);
  }
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / median(times) / 1e9;
}

/** prime-ts: timed step times (wall and CPU, ms) and the loss of every step. */
function runPrime(c: Config): { stepMs: number[]; cpuMs: number[]; loss: number[] } {
  torch.setNumThreads(c.threads);
  torch.manualSeed(c.seed);
  const model = new GPT(c.vocab, c.tokens, c.width, c.heads, c.layers);
  const opt = new torch.AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.01 });
  const [x, y] = torch.tidy(() => {
    const ids = torch.randint(0, c.vocab, [c.batch, c.tokens + 1]);
    return [ids.slice(1, 0, -1).contiguous(), ids.slice(1, 1).contiguous()]; // (B, T) inputs, next tokens
  });
  const stepMs: number[] = [], cpuMs: number[] = [], loss: number[] = [];
  for (let i = 0; i < c.warmup + c.steps; i++) {
    const t0 = performance.now(), c0 = process.cpuUsage();
    const l = torch.tidy(() => {
      const logits = model.forward(x);
      const ce = torch.crossEntropy(logits.view(-1, c.vocab), y.view(-1));
      ce.backward();
      return ce.item();
    });
    opt.step();
    opt.zeroGrad();
    const dt = performance.now() - t0, cpu = process.cpuUsage(c0);
    if (i >= c.warmup) {
      stepMs.push(dt);
      cpuMs.push((cpu.user + cpu.system) / 1000);
    }
    loss.push(l);
  }
  for (const t of [x, y]) t.dispose();
  opt.dispose();
  model.dispose();
  return { stepMs, cpuMs, loss };
}

interface PyResult { torch: string; threads: number; step_ms: number[]; cpu_ms: number[]; loss: number[]; gflops: number }

function runPython(c: Config, python: string): PyResult {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/bench → repo root, or bench/ when run from sources
  const script = [path.resolve(here, '../../bench/torch_step.py'), path.resolve(here, 'torch_step.py')].find(existsSync);
  if (!script) throw new Error('bench/torch_step.py not found');
  const args = ['threads', 'layers', 'width', 'heads', 'batch', 'tokens', 'vocab', 'warmup', 'steps', 'seed']
    .flatMap((k) => [`--${k}`, String(c[k as keyof Config])]);
  const r = spawnSync(python, [script, ...args], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(c.threads) } });
  if (r.status !== 0) {
    throw new Error(`${python} ${script} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` +
      '\nPyTorch comes from Debian\'s python3-torch: `make bench-torch` installs it.');
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PyResult;
}

function main(): void {
  const cfg = parseArgs(process.argv.slice(2));
  const { python } = cfg;
  console.log(`transformer step: L=${cfg.layers} D=${cfg.width} H=${cfg.heads} B=${cfg.batch} T=${cfg.tokens} V=${cfg.vocab}, ` +
    `${cfg.threads} threads (OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY ?? 'default'} for both), ${cfg.rounds} rounds × (${cfg.warmup} warm-up + ${cfg.steps} timed steps)`);
  const py: number[] = [], ts: number[] = [], pyCpu: number[] = [], tsCpu: number[] = [];
  let pyGflops = 0, tsGflops = 0, pyVersion = '';
  for (let r = 0; r < cfg.rounds; r++) {
    const p = runPython(cfg, python);
    const t = runPrime(cfg);
    tsGflops = Math.max(tsGflops, sgemmGflops()); // like the Python side: after each run, best of the rounds
    py.push(...p.step_ms);
    ts.push(...t.stepMs);
    pyCpu.push(...p.cpu_ms);
    tsCpu.push(...t.cpuMs);
    pyGflops = Math.max(pyGflops, p.gflops);
    pyVersion = p.torch;
    const fmt = (xs: number[]) => xs.map((v) => v.toFixed(3)).join(' ');
    console.log(`round ${r + 1}: PyTorch median ${median(p.step_ms).toFixed(1)} ms, prime-ts median ${median(t.stepMs).toFixed(1)} ms` +
      `  (loss PyTorch ${fmt([p.loss[0]!, p.loss.at(-1)!])}, prime-ts ${fmt([t.loss[0]!, t.loss.at(-1)!])})`);
  }
  const [mPy, mTs] = [median(py), median(ts)];
  console.log(`PyTorch ${pyVersion} step: ${mPy.toFixed(1)} ms (median of ${py.length})`);
  console.log(`prime-ts (libtorch ${torch.version().libtorch}) step: ${mTs.toFixed(1)} ms (median of ${ts.length})`);
  console.log(`ratio prime-ts / PyTorch: ${(mTs / mPy).toFixed(3)}  (target ≤ 1.05)`);
  // CPU time (all threads) is steadier than wall time when other processes share the cores
  console.log(`CPU time per step: PyTorch ${median(pyCpu).toFixed(1)} ms, prime-ts ${median(tsCpu).toFixed(1)} ms, ratio ${(median(tsCpu) / median(pyCpu)).toFixed(3)}`);
  console.log(`sgemm 1024×1024 GFLOPS (best round): PyTorch ${pyGflops.toFixed(1)}, prime-ts ${tsGflops.toFixed(1)}`);
  // MFU: model FLOPs (src/prime/perf.ts's convention: 2 per weight per token, causal attention
  // pairs, fwd+bwd = 3× fwd) of this GPT step (qkv D×3D, proj D×D, fc D×4D, out 4D×D per layer;
  // head D×V) per second, over the best sgemm rate each side measured
  const { layers: L, width: D, batch: Bn, tokens: Tn, vocab: V } = cfg;
  const stepFlops = 3 * Bn * (Tn * (2 * L * (3 * D * D + D * D + 8 * D * D) + 2 * D * V) + 4 * L * D * (Tn * (Tn + 1)) / 2);
  const mfu = (ms: number, gflops: number) => `${(100 * stepFlops / (ms / 1000) / (gflops * 1e9)).toFixed(1)}%`;
  console.log(`MFU (${(stepFlops / 1e9).toFixed(2)} GFLOP/step): PyTorch ${mfu(mPy, pyGflops)}, prime-ts ${mfu(mTs, tsGflops)}`);
  console.log(`live tensors after the runs: ${torch.memory().tensors}`);
}

main();
