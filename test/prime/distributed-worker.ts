/**
 * One rank of a data-parallel PRIME job in distributed.test.ts (or the single process it is
 * compared with, when WORLD_SIZE is not set): builds the trainer on the test's tiny model with the
 * injected `containsDigit` verifier, trains, and saves its final policy and PRM parameters to
 * `<out>/params-rank<r>.safetensors`.
 *
 *   node distributed-worker.js '{"modelDir", "dataFile", "out", "over": {...}, "killAt"?, "hangAt"?}'
 *
 * `killAt` / `hangAt` = {rank, step}: that rank SIGKILLs itself, or blocks for 60 s, right after
 * finishing that step (the others go on into the next step's collectives).
 * Prints `RESULT {…}` on success, `ERROR "message"` (and exits 1) on failure.
 */
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { PrimeTrainer } from '../../src/prime/trainer.js';
import { configFromObject } from '../../src/prime/config.js';
import type { Verifier } from '../../src/prime/verifier.js';

interface WorkerArgs {
  modelDir: string;
  dataFile: string;
  out: string;
  /** Config sections merged over the base config (a section replaces the base's section fields it names). */
  over?: Record<string, Record<string, unknown>>;
  killAt?: { rank: number; step: number };
  hangAt?: { rank: number; step: number };
}

/** A random tiny model never solves arithmetic; this label is learnable and near 50/50 for it. */
const containsDigit: Verifier = async (_row, text) => ({ score: /[0-9]/.test(text) ? 1 : 0 });

/** trainer.test.ts's configuration (tiny shapes), one thread, with `over` merged per section. */
function workerConfig(a: Pick<WorkerArgs, 'modelDir' | 'dataFile' | 'out' | 'over'>): Record<string, Record<string, unknown>> {
  const base: Record<string, Record<string, unknown>> = {
    model: { path: a.modelDir },
    data: { train_files: [a.dataFile], max_prompt_length: 96, max_response_length: 10, seed: 3 },
    rollout: { n: 4, batch_prompts: 4, micro_batch: 16, oversample: 2 },
    algorithm: { beta: 0.5 },
    actor: { lr: 2e-3, mini_batch: 8, micro_batch: 4 },
    prm: { lr: 3e-3, micro_batch: 8 },
    trainer: { total_steps: 3, save_every: 0, output_dir: a.out, seed: 11, log_every: 1, threads: 1 },
  };
  for (const [sec, fields] of Object.entries(a.over ?? {})) base[sec] = { ...base[sec], ...fields };
  return base;
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2]!) as WorkerArgs;
  const t = await PrimeTrainer.create(configFromObject(workerConfig(a)), { verifier: containsDigit, log: (l) => console.log(l) });
  const hit = (at?: { rank: number; step: number }) => at !== undefined && at.rank === t.rank && at.step === t.step;
  await t.train({
    onStep: () => {
      if (hit(a.killAt)) {
        console.log(`rank ${t.rank}: SIGKILL after step ${t.step}`);
        process.kill(process.pid, 'SIGKILL');
      }
      if (hit(a.hangAt)) {
        console.log(`HANGING ${Date.now()}`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000); // blocks this thread: no collective answers
      }
    },
  });
  const params = new Map<string, torch.Tensor>([
    ...t.policy.namedParameters().map(([n, p]) => [`policy.${n}`, p.detach().to('cpu')] as [string, torch.Tensor]),
    ...t.prm.namedParameters().map(([n, p]) => [`prm.${n}`, p.detach().to('cpu')] as [string, torch.Tensor]),
  ]);
  torch.saveSafetensors(path.join(a.out, `params-rank${t.rank}.safetensors`), params);
  const result = { rank: t.rank, worldSize: t.worldSize, step: t.step };
  t.dispose();
  console.log(`RESULT ${JSON.stringify(result)}`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.log(`ERROR ${JSON.stringify(e instanceof Error ? e.message : String(e))}`);
    process.exit(1);
  },
);
