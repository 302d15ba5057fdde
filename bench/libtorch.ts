/**
 * The same prime-ts/lm work on the two libtorch builds of the addon, in one run:
 *   native/build      Debian's libtorch 1.13.1 (or $LIBTORCH), `make build`
 *   native/build-lt2  PyPI torch 2.x's libtorch (CPU, torch_cpu + c10), `make build-libtorch2`
 * Each build runs in a child process of this one (PRIME_NATIVE selects the addon), alternating
 * A, B, A, B so drift on a shared machine hits both; medians are compared.
 *
 *   score   logprobs() forward over a (B, T) batch                       → tokens/s
 *   train   the same plus backward of the summed log-probs                → tokens/s
 *   sample  generate(): P prompts, maxNew tokens each, temperature 1      → generated tokens/s
 *
 * Also the load time of each addon (import of prime-ts/torch: dlopen of libtorch and init), and
 * the 2.x build with its attention kernel switched to the composite path (setAttentionKernel):
 * what libtorch's scaled_dot_product_attention adds.
 * Run: `node dist/bench/libtorch.js [reps]` after both builds. Child mode: `--child`.
 */
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');

interface Result { libtorch: string; loadMs: number; score: number; train: number; sample: number; attention?: string }

async function child(): Promise<void> {
  const t0 = performance.now();
  const torch = await import('../src/torch/index.js');
  const loadMs = performance.now() - t0;
  const kernel = process.env.PRIME_BENCH_ATTENTION as 'sdpa' | 'composite' | undefined;
  if (kernel) torch.setAttentionKernel(kernel);
  const { CausalLM, generate, logprobs, makeConfig } = await import('../src/lm/index.js');
  torch.manualSeed(0);
  const m = new CausalLM(makeConfig({ modelType: 'qwen2', vocabSize: 16384, hiddenSize: 512, intermediateSize: 1408, numLayers: 6, numHeads: 8, numKvHeads: 4, tieWordEmbeddings: true }));
  const B = 8, T = 256;
  const ids = torch.randint(0, 16384, [B, T]);
  const time = (fn: () => void): number => {
    fn(); // warm-up
    const ts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const a = performance.now();
      fn();
      ts.push(performance.now() - a);
    }
    return ts.sort((x, y) => x - y)[1]! / 1000;
  };
  const score = time(() => torch.noGrad(() => torch.tidy(() => void logprobs(m, ids).logprobs.sum().item())));
  const train = time(() => {
    torch.tidy(() => logprobs(m, ids).logprobs.sum().backward());
    m.zeroGrad();
  });
  const prompts = Array.from({ length: 8 }, (_, i) => Array.from({ length: 32 }, (_, j) => (i * 131 + j * 17) % 16384));
  const maxNew = 64;
  const sample = time(() => void generate(m, prompts, { maxNewTokens: maxNew, temperature: 1, seed: 1 }));
  const r: Result = { libtorch: torch.version().libtorch, attention: torch.setAttentionKernel(), loadMs, score: (B * T) / score, train: (B * T) / train, sample: (8 * maxNew) / sample };
  process.stdout.write(JSON.stringify(r) + '\n');
}

function main(): void {
  const reps = Number(process.argv[2] ?? 2);
  const lt2 = path.join(ROOT, 'native/build-lt2/build/Release/prime_native.node');
  const builds = [
    ['libtorch 1.13 (native/build)', path.join(ROOT, 'native/build/Release/prime_native.node'), ''],
    ['libtorch 2.x, SDPA (build-lt2)', lt2, 'sdpa'],
    ['libtorch 2.x, composite attention', lt2, 'composite'],
  ] as const;
  const runs: Result[][] = builds.map(() => []);
  for (let r = 0; r < reps; r++) {
    for (const [i, [name, addon, kernel]] of builds.entries()) {
      const env: NodeJS.ProcessEnv = { ...process.env, PRIME_NATIVE: addon };
      if (kernel) env.PRIME_BENCH_ATTENTION = kernel;
      const p = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child'], { encoding: 'utf8', env });
      if (p.status !== 0) throw new Error(`${name}: ${p.stderr}`);
      runs[i]!.push(JSON.parse(p.stdout.trim().split('\n').pop()!));
    }
  }
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  console.log(`Qwen2-shaped 25M model (D=512, L=6, H=8/4, V=16384), float32, ${reps} runs each, alternating; threads: default`);
  console.log('build                              libtorch  load ms  score tok/s  train tok/s  sample tok/s');
  const rows = runs.map((rs, i) => ({
    name: builds[i]![0], lt: rs[0]!.libtorch, load: med(rs.map((x) => x.loadMs)), score: med(rs.map((x) => x.score)),
    train: med(rs.map((x) => x.train)), sample: med(rs.map((x) => x.sample)),
  }));
  for (const r of rows) console.log(`${r.name.padEnd(34)} ${r.lt.padEnd(9)} ${r.load.toFixed(0).padStart(7)} ${r.score.toFixed(0).padStart(12)} ${r.train.toFixed(0).padStart(12)} ${r.sample.toFixed(1).padStart(13)}`);
  const [a, b, c] = rows as [typeof rows[0], typeof rows[0], typeof rows[0]];
  console.log(`ratio 2.x (SDPA) / 1.13: load ${(b.load / a.load).toFixed(2)}×, score ${(b.score / a.score).toFixed(2)}×, train ${(b.train / a.train).toFixed(2)}×, sample ${(b.sample / a.sample).toFixed(2)}×`);
  console.log(`ratio SDPA / composite on 2.x: score ${(b.score / c.score).toFixed(2)}×, train ${(b.train / c.train).toFixed(2)}×, sample ${(b.sample / c.sample).toFixed(2)}×`);
}

if (process.argv.includes('--child')) await child();
else main();
