/**
 * What the implicit PRM costs per step at the demo's scale (issue #14 goal 2): PRIME against
 * outcome-only RLOO with the demo's settings (`prime demo`: 16 prompt groups × 4 samples after the
 * accuracy filter, rollout temperature 0.7, k3 KL 0.05 to the reference, PRM update `after`, the
 * PRM probe every 10 steps), from the demo's SFT start (runs/demo/sft, made by `prime demo` or
 * bench/replication.js), the same seed for both. Each run is a child process; runs alternate
 * (rloo, prime, rloo, prime, …) so a shared machine's load falls on both alike.
 *
 * Prints per-phase seconds (mean over steps 2…N−1: step 1 warms caches up, and the last step runs
 * the PRM probe, which is measured on its own) and the ratio of PRIME's time/step to RLOO's, also
 * in process CPU seconds per step (steadier than wall time on a shared machine). Steps differ in
 * what they sample (the methods train differently after step 1), so response tokens per step are
 * printed too, and a per-token ratio beside the per-step one.
 *
 *   node dist/bench/prm-cost.js [--steps 10] [--rounds 2] [--methods rloo,prime] [--seed 1]
 *
 * A method is an advantage estimator with optional overrides, as in bench/replication.ts
 * (`prime@prm.micro_batch=16`); `@shared=false` sets TrainerOptions.sharedPrompts = false (every
 * prompt decoded once per response, as before prompts were shared).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PHASES = ['time/rollout', 'time/score_ref', 'time/prm', 'time/policy_update', 'time/prm_probe', 'time/step'] as const;

function overridesOf(kvs: string[]): Record<string, Record<string, unknown>> {
  const o: Record<string, Record<string, unknown>> = {};
  for (const kv of kvs) {
    const [k, v] = [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)];
    const [sec, key] = k.split('.') as [string, string];
    (o[sec] ??= {})[key] = v === 'true' ? true : v === 'false' ? false : v !== '' && !Number.isNaN(Number(v)) ? Number(v) : v;
  }
  return o;
}

async function child(spec: string, steps: number, seed: number): Promise<void> {
  const { DEMO, writeDemoData, ensureSftStart, demoConfig } = await import('../src/prime/demo/run.js');
  const { PrimeTrainer } = await import('../src/prime/trainer.js');
  const [label, ...all] = spec.split('@') as [string, ...string[]];
  const sharedPrompts = !all.includes('shared=false');
  const over = overridesOf(all.filter((kv) => !kv.startsWith('shared=')));
  const advantage = String(over.algorithm?.advantage ?? label.split('-')[0]);
  const files = await writeDemoData(DEMO);
  const sft = await ensureSftStart(DEMO, files, () => {});
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-prm-cost-'));
  try {
    const base: Record<string, Record<string, unknown>> = {
      model: { path: sft }, data: { train_files: [files.train], seed }, algorithm: { advantage },
      trainer: { output_dir: out, seed, total_steps: steps, save_every: 0, log_every: 1000 },
    };
    for (const [k, v] of Object.entries(over)) base[k] = { ...(base[k] ?? {}), ...v };
    const t = await PrimeTrainer.create(demoConfig(DEMO, base), { log: () => {}, sharedPrompts });
    const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
    const cpuPerStep: number[] = [];
    let c0 = cpu();
    const ms = await t.train({ onStep: () => { const c = cpu(); cpuPerStep.push(c - c0); c0 = c; } });
    t.dispose();
    process.stdout.write(JSON.stringify(ms.map((m, i) => ({ ...Object.fromEntries([...PHASES, 'batch/response_tokens'].map((k) => [k, m[k] ?? 0])), cpu: cpuPerStep[i]! }))) + '\n');
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

function main(): void {
  const args = process.argv.slice(2);
  const flag = (name: string, d: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1]! : d;
  };
  const steps = Number(flag('steps', '10')), rounds = Number(flag('rounds', '2')), seed = Number(flag('seed', '1'));
  const methods = flag('methods', 'rloo,prime').split(',');
  const per = new Map<string, Record<string, number>[]>(methods.map((m) => [m, []]));
  const probe = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++)
    for (const m of methods) {
      const p = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', m, String(steps), String(seed)], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (p.status !== 0) throw new Error(`${m}: ${p.stderr}`);
      const ms = JSON.parse(p.stdout.trim().split('\n').pop()!) as Record<string, number>[];
      const mid = ms.slice(1, -1); // not the warm-up step, not the last (the probe runs there)
      per.get(m)!.push(...mid);
      probe.set(m, [...(probe.get(m) ?? []), ms.at(-1)!['time/prm_probe']!]);
      const mean = mid.reduce((a, x) => a + x['time/step']!, 0) / Math.max(1, mid.length);
      console.log(`round ${r + 1} ${m}: ${mean.toFixed(3)} s/step`);
    }
  const mean = (xs: Record<string, number>[], k: string) => xs.reduce((a, x) => a + (x[k] ?? 0), 0) / Math.max(1, xs.length);
  console.log(`\nDemo settings, seed ${seed}, ${steps} steps × ${rounds} rounds per method; mean over steps 2…${steps - 1} (seconds; probe: at the last step)`);
  console.log(`method${' '.repeat(26)}rollout  reference   PRM  policy   step  CPU s/step  resp.tokens  probe`);
  for (const m of methods) {
    const xs = per.get(m)!;
    const pr = probe.get(m)!;
    console.log(`${m.padEnd(32)}${PHASES.filter((k) => k !== 'time/prm_probe').map((k) => mean(xs, k).toFixed(3).padStart(k === 'time/step' ? 7 : 8)).join('')}${mean(xs, 'cpu').toFixed(3).padStart(12)}${mean(xs, 'batch/response_tokens').toFixed(0).padStart(13)}${(pr.reduce((a, b) => a + b, 0) / pr.length).toFixed(3).padStart(7)}`);
  }
  const base = methods[0]!;
  for (const m of methods.slice(1)) {
    const a = per.get(m)!, b = per.get(base)!;
    const ratio = mean(a, 'time/step') / mean(b, 'time/step');
    const perTok = (mean(a, 'time/step') / mean(a, 'batch/response_tokens')) / (mean(b, 'time/step') / mean(b, 'batch/response_tokens'));
    const cpuRatio = mean(a, 'cpu') / mean(b, 'cpu');
    console.log(`${m} / ${base}: step time ${ratio.toFixed(3)}× (+${(100 * (ratio - 1)).toFixed(0)}%), per response token ${perTok.toFixed(3)}×, CPU time per step ${cpuRatio.toFixed(3)}×`);
  }
}

const i = process.argv.indexOf('--child');
if (i >= 0) await child(process.argv[i + 1]!, Number(process.argv[i + 2]), Number(process.argv[i + 3]));
else main();
