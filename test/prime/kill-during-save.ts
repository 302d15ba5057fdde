/** Child process of trainer.test.ts: trains, saves, then SIGKILLs itself in the middle of a save. */
import fs from 'node:fs';
import path from 'node:path';
import { PrimeTrainer } from '../../src/prime/trainer.js';
import { configFromObject } from '../../src/prime/config.js';

const { modelDir, dataFile, out, when } = JSON.parse(process.argv[2]!) as Record<string, string>;
const cfg = configFromObject({
  model: { path: modelDir },
  data: { train_files: [dataFile], max_prompt_length: 96, max_response_length: 6 },
  rollout: { n: 4, batch_prompts: 2, micro_batch: 8 },
  filter: { enable: false },
  actor: { mini_batch: 8, micro_batch: 8 },
  trainer: { total_steps: 1, save_every: 1, output_dir: out },
} as never);
const t = await PrimeTrainer.create(cfg, { verifier: async (_r, s) => ({ score: s.length % 2 }), log: () => {} });
await t.train(); // step 1, checkpoint 1
t.step = 2;
// Kill at a point inside the second checkpoint's write: after the named part exists on disk.
const tmpMarker = (dir: string) => fs.readdirSync(dir).find((f) => f.startsWith('.step-000002'));
const root = path.join(out, 'checkpoints');
const timer = setInterval(() => {}, 1000);
const origWrite = fs.writeFileSync;
(fs as { writeFileSync: typeof fs.writeFileSync }).writeFileSync = ((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
  (origWrite as (...a: unknown[]) => void)(file, ...rest);
  const tmp = tmpMarker(root);
  const f = String(file);
  if (tmp && ((when === 'policy' && f.includes(`${tmp}/policy/config.json`)) || (when === 'state' && f.endsWith('state.json')))) process.kill(process.pid, 'SIGKILL');
}) as typeof fs.writeFileSync;
if (when === 'optimizer') {
  const origRename = fs.renameSync;
  (fs as { renameSync: typeof fs.renameSync }).renameSync = ((a: fs.PathLike, b: fs.PathLike) => {
    origRename(a, b);
    if (String(b).endsWith('optim-policy.safetensors')) process.kill(process.pid, 'SIGKILL');
  }) as typeof fs.renameSync;
}
t.save();
clearInterval(timer);
