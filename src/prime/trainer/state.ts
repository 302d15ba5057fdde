/**
 * Checkpoints of a run: everything a resumed run needs to continue exactly — policy and PRM in
 * Hugging Face layout (float32 master weights for a model trained in bf16), optimizer states, RNG state, the data cursor, the prompt buffer and the
 * re-queued prompts, the PRM probe set, the KL coefficient — written atomically (checkpoint.ts).
 *
 * With several ranks, each rank's RNG state and prompt buffer are gathered to rank 0, which
 * writes them as `ranks/rank-NNNNN.json` beside the rest (models and optimizer states are the
 * same on every rank).
 */
import fs from 'node:fs';
import path from 'node:path';
import { TrainingDivergedError } from './errors.js';
import * as torch from '../../torch/index.js';
import { type AdamW, tidy } from '../../torch/index.js';
import { savePretrained } from '../../lm/index.js';
import { configToYaml } from '../config.js';
import { PromptDataset, type PromptRow, type DatasetState } from '../data.js';
import { PromptBuffer, type Group } from '../filter.js';
import { writeCheckpoint, checkpointName, readCheckpointState } from '../checkpoint.js';
import type { PrimeTrainer, RolloutGroup } from '../trainer.js';
import { disposePrmReplay, replayFromSafetensors, replayToSafetensors, type PrmProbeSet } from './prm.js';
import type { TrainedWeights } from './precision.js';

/** What differs between ranks in a checkpoint: each rank's RNG and its buffer of kept groups. */
interface RankState {
  rank: number;
  /** libtorch's CPU generator state, base64. */
  rng: string;
  buffer: Group<RolloutGroup>[];
}

/** state.json */
interface SavedState {
  step: number;
  dataset: DatasetState;
  buffer: Group<RolloutGroup>[];
  droppedLongPrompts: number;
  /** Re-queued prompts (indices into the dataset's rows), `rollout.buffer: prompts`. */
  requeue?: number[];
  probe?: PrmProbeSet | null;
  world_size?: number;
  /** The KL controller's coefficient (algorithm.kl_ctrl). */
  kl_ctrl?: ReturnType<PrimeTrainer['klCtrl']['state']>;
}

const rankFile = (rank: number): string => `rank-${String(rank).padStart(5, '0')}.json`;

/** Writes the checkpoint of step t.step; returns its directory. Every rank calls it. */
export function saveCheckpoint(t: PrimeTrainer): string {
  const root = path.join(t.cfg.trainer.output_dir, 'checkpoints');
  // never a checkpoint of blown-up weights (every rank holds the same ones, so all stop together)
  for (const [what, ws] of [['policy', t.policyWeights.optimized], ['PRM', t.prmWeights?.optimized ?? []]] as const) {
    const finite = ws.length ? tidy(() => torch.stack(ws.map((w) => w.isfinite().all())).toFlatArray()) : []; // one read-back
    const bad = finite.findIndex((x) => !x);
    if (bad >= 0) throw new TrainingDivergedError(`${what} weights (parameter ${bad})`, t.step, NaN);
  }
  const ranks = t.parallel.active ? gatherRankStates(t) : null;
  if (t.rank !== 0) return path.join(root, checkpointName(t.step));
  return writeCheckpoint(root, t.step, (dir) => {
    // under bf16 the float32 masters are what is saved (and loaded back: trainer/precision.ts)
    const full = (w: TrainedWeights | null) => {
      const tensors = w?.namedMasters();
      return tensors ? { tensors, dtype: 'float32' as const } : {};
    };
    savePretrained(path.join(dir, 'policy'), t.policy, { tokenizer: t.tokenizer, ...full(t.policyWeights) });
    savePretrained(path.join(dir, 'prm'), t.prm, { tokenizer: t.tokenizer, ...full(t.prmWeights) });
    const pol = t.policyOpt.stateDict();
    torch.saveSafetensors(path.join(dir, 'optim-policy.safetensors'), pol.tensors, { step: String(pol.scalars.step) });
    if (t.prmOpt) {
      const p = t.prmOpt.stateDict();
      torch.saveSafetensors(path.join(dir, 'optim-prm.safetensors'), p.tensors, { step: String(p.scalars.step) });
    }
    const rng = torch.getRngState();
    torch.saveSafetensors(path.join(dir, 'rng.safetensors'), { cpu: rng });
    rng.dispose();
    if (t.prmReplayBuffer.length && !ranks) {
      const r = replayToSafetensors(t.prmReplayBuffer);
      torch.saveSafetensors(path.join(dir, 'prm-replay.safetensors'), r.tensors, r.metadata);
      torch.dispose(Object.values(r.tensors));
    }
    const state: SavedState = {
      step: t.step, dataset: t.dataset.state(), buffer: t.buffer.toJSON(), droppedLongPrompts: t.droppedLongPrompts,
      requeue: t.requeue, probe: t.probe, kl_ctrl: t.klCtrl.state(),
      ...(ranks ? { world_size: ranks.length } : {}),
    };
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state));
    fs.writeFileSync(path.join(dir, 'config.yaml'), configToYaml(t.cfg));
    if (ranks) {
      fs.mkdirSync(path.join(dir, 'ranks'));
      for (const r of ranks) fs.writeFileSync(path.join(dir, 'ranks', rankFile(r.rank)), JSON.stringify(r));
    }
  });
}

/** Every rank's RankState, in rank order: JSON bytes padded to the longest, all-gathered. */
function gatherRankStates(t: PrimeTrainer): RankState[] {
  const dp = t.parallel;
  const rng = torch.getRngState();
  const mine: RankState = { rank: t.rank, rng: Buffer.from(rng.data() as Uint8Array).toString('base64'), buffer: t.buffer.toJSON() };
  rng.dispose();
  const bytes = Buffer.from(JSON.stringify(mine), 'utf8');
  const [longest] = dp.reduce([bytes.length], 'max', 'gathering rank states for the checkpoint');
  const padded = new Uint8Array(longest!); // zero bytes after the JSON: it never contains a raw NUL
  padded.set(bytes);
  return tidy(() => {
    const all = dp.collective('gathering rank states for the checkpoint', () => torch.distributed.allGather(torch.tensor(padded)));
    return all.map((x) => {
      const b = Buffer.from(x.data() as Uint8Array);
      const end = b.indexOf(0);
      return JSON.parse(b.subarray(0, end < 0 ? b.length : end).toString('utf8')) as RankState;
    });
  });
}

/** Restores the run state of checkpoint `dir` into t (models were loaded from it already). */
export function restoreCheckpoint(t: PrimeTrainer, dir: string, rows: PromptRow[]): void {
  const state = readCheckpointState(dir) as unknown as SavedState; // errors name state.json
  const savedWorld = state.world_size ?? 1;
  if (savedWorld !== t.worldSize)
    throw new Error(`${dir} was written by a run on ${savedWorld} rank(s); resume it on ${savedWorld} (prompt buffers and RNG states are per rank), not ${t.worldSize}`);
  t.step = state.step;
  t.dataset = PromptDataset.restore(rows, state.dataset);
  t.droppedLongPrompts = t.dataset.dropWhere((r) => t.excludedFromTraining(r));
  t.buffer = PromptBuffer.fromJSON(state.buffer);
  t.requeue = state.requeue ?? [];
  if (state.probe) t.probe = state.probe;
  if (state.kl_ctrl && t.klCtrl.kind === 'adaptive') t.klCtrl.load(state.kl_ctrl); // a fixed β is the config's
  const loadOpt = (opt: AdamW, f: string) => {
    const tensors = torch.loadSafetensors(f);
    const step = Number(torch.readSafetensorsHeader(f).metadata.step ?? 0);
    opt.loadStateDict({ tensors, scalars: { step } });
    torch.dispose([...tensors.values()]);
  };
  loadOpt(t.policyOpt, path.join(dir, 'optim-policy.safetensors'));
  if (t.prmOpt) loadOpt(t.prmOpt, path.join(dir, 'optim-prm.safetensors'));
  disposePrmReplay(t.prmReplayBuffer);
  const replayFile = path.join(dir, 'prm-replay.safetensors');
  if (fs.existsSync(replayFile) && t.cfg.prm.replay_steps > 0) {
    const tensors = torch.loadSafetensors(replayFile);
    try {
      const entries = replayFromSafetensors(tensors, torch.readSafetensorsHeader(replayFile).metadata, replayFile, t.prm.device);
      t.prmReplayBuffer.push(...entries.slice(0, t.cfg.prm.replay_steps));
      disposePrmReplay(entries.slice(t.cfg.prm.replay_steps));
    } finally {
      torch.dispose([...tensors.values()]);
    }
  } else if (t.cfg.prm.replay_steps > 0 && t.parallel.active) {
    t.log(`resume: prm.replay_steps=${t.cfg.prm.replay_steps}: data-parallel checkpoints do not keep the ranks' PRM replay buffers; they start empty`);
  }
  if (t.parallel.active) {
    const mine = JSON.parse(fs.readFileSync(path.join(dir, 'ranks', rankFile(t.rank)), 'utf8')) as RankState;
    t.buffer = PromptBuffer.fromJSON(mine.buffer);
    tidy(() => torch.setRngState(torch.tensor(new Uint8Array(Buffer.from(mine.rng, 'base64')))));
    return;
  }
  const rng = torch.loadSafetensors(path.join(dir, 'rng.safetensors'));
  torch.setRngState(rng.get('cpu')!);
  torch.dispose([...rng.values()]);
}
