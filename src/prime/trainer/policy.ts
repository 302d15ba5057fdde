/**
 * The policy update (DESIGN §2 step 7): PPO epochs over shuffled mini-batches of actor.mini_batch
 * sequences, micro-batched, with the clipped surrogate (ppoClipLoss), an optional entropy bonus
 * and an optional KL term to the reference (at the rollout temperature, like the policy's
 * log-probs; scored only when algorithm.kl_coef > 0), token-mean over each mini-batch; gradient clipping; AdamW.
 *
 * Data-parallel: the shuffle is one permutation of the global batch, the same on every rank
 * (seeded: `rollout.seed_per_prompt`); each rank backpropagates the members of each global
 * mini-batch it holds, each micro-batch weighted by its tokens / the global mini-batch's tokens
 * (counts summed over ranks once per epoch), and the gradients are summed over ranks before
 * clipping. The update is that of one process on the whole batch; a rank's share of a
 * mini-batch varies around mini_batch / W (it may be empty: it then adds zero gradients).
 *
 * Shapes: N sequences on this rank, packed (N, P + T); oldLogp, advantages, refLogp, mask (N, T).
 */
import * as torch from '../../torch/index.js';
import { type Tensor, tidy } from '../../torch/index.js';
import { logprobs, type PackedBatch } from '../../lm/index.js';
import { seededPermutation } from '../data.js';
import { ppoClipLoss, klPenalty } from '../ppo.js';
import { maskedMean } from '../masked.js';
import type { Metrics } from '../metrics.js';
import type { PrimeTrainer } from '../trainer.js';
import { ppoShuffleSeed } from './seeds.js';
import { TrainingDivergedError } from './errors.js';

export function updatePolicy(t: PrimeTrainer, batch: PackedBatch, oldLogp: Tensor, advantages: Tensor, refLogp: Tensor | null, mask: Tensor, K: number): Metrics {
  const c = t.cfg;
  const dp = t.parallel;
  const N = batch.inputIds.size(0); // this rank's sequences
  const Nall = N * dp.world; // the global batch's
  const P = batch.responseStart, T = batch.inputIds.size(1) - P;
  const mini = Math.min(c.actor.mini_batch, Nall), micro = c.actor.micro_batch;
  const lr = c.actor.warmup_steps > 0 && t.step <= c.actor.warmup_steps ? (c.actor.lr * t.step) / c.actor.warmup_steps : c.actor.lr;
  t.policyOpt.setLr(lr);
  t.policy.train();
  const acc = { loss: 0, clip: 0, kl: 0, ent: 0, gn: 0, n: 0, steps: 0, klRef: 0 };
  const indexTensor = (idx: number[]) => torch.tensor(BigInt64Array.from(idx, BigInt));
  for (let epoch = 0; epoch < c.actor.ppo_epochs; epoch++) {
    // global sequence indices in shuffled order
    const order = c.rollout.seed_per_prompt
      ? seededPermutation(Nall, ppoShuffleSeed(c.trainer.seed, t.step, epoch))
      : tidy(() => Array.from(torch.randperm(Nall).data() as BigInt64Array, Number));
    // each global mini-batch's members on this rank (local indices), and its tokens over all ranks
    const minis: number[][] = [];
    for (let s = 0; s < Nall; s += mini) minis.push(order.slice(s, s + mini).map((g) => dp.localSeq(g, K)).filter((l) => l >= 0));
    const localTokens = minis.map((idx) => (idx.length ? tidy(() => mask.indexSelect(0, indexTensor(idx)).sum().item()) : 0));
    const miniTokens = dp.reduce(localTokens, 'sum', 'counting mini-batch tokens');
    for (const [j, members] of minis.entries()) {
      const tokens = Math.max(1, miniTokens[j]!);
      for (let i = 0; i < members.length; i += micro) {
        tidy(() => {
          const idx = indexTensor(members.slice(i, i + micro));
          const mk = mask.indexSelect(0, idx);
          const out = logprobs(t.policy, batch.inputIds.indexSelect(0, idx), {
            attentionMask: batch.attentionMask.indexSelect(0, idx), responseMask: batch.responseMask.indexSelect(0, idx),
            responseStart: P, temperature: c.rollout.temperature, withEntropy: true,
          });
          const lp = out.logprobs.narrow(1, P, T);
          const ent = out.entropy!.narrow(1, P, T);
          const pg = ppoClipLoss(lp, oldLogp.indexSelect(0, idx), advantages.indexSelect(0, idx), mk, c.actor.clip_eps);
          let loss = pg.loss;
          const entropy = maskedMean(ent, mk);
          if (c.algorithm.entropy_coef > 0) loss = loss.sub(entropy.mul(c.algorithm.entropy_coef));
          // KL to the reference, when one was scored (kl_coef > 0): at the rollout temperature, like lp
          const kl = refLogp ? maskedMean(klPenalty(lp, refLogp.indexSelect(0, idx), mk, c.algorithm.kl_estimator), mk) : null;
          if (kl && c.algorithm.kl_mode === 'loss') loss = loss.add(kl.mul(c.algorithm.kl_coef));
          // token-mean over the (global) mini-batch: weight this micro-batch by its share of the tokens
          const share = mk.sum().item() / tokens;
          loss.mul(share).backward();
          const lv = loss.item();
          if (!Number.isFinite(lv)) throw new TrainingDivergedError('policy loss', t.step, lv);
          acc.loss += lv * share; acc.clip += pg.clipFraction * share; acc.kl += pg.approxKl * share;
          acc.ent += entropy.item() * share; acc.klRef += (kl ? kl.item() : 0) * share;
        });
      }
      dp.allReduceGradients(t.policy.parameters(), 'policy');
      const gn = torch.clipGradNorm(t.policy.parameters(), c.actor.grad_clip);
      if (!Number.isFinite(gn)) throw new TrainingDivergedError('policy grad norm', t.step, gn);
      t.policyOpt.step();
      t.policyOpt.zeroGrad();
      acc.gn += gn;
      acc.steps++;
    }
  }
  // each rank summed its share-weighted part of every mini-batch's means: sum over ranks
  [acc.loss, acc.clip, acc.kl, acc.ent, acc.klRef] = dp.reduce([acc.loss, acc.clip, acc.kl, acc.ent, acc.klRef], 'sum', 'reducing policy metrics') as [number, number, number, number, number];
  const k = Math.max(1, acc.steps);
  return {
    'actor/pg_loss': acc.loss / k, 'actor/clip_fraction': acc.clip / k, 'actor/approx_kl': acc.kl / k,
    'actor/entropy': acc.ent / k, 'actor/grad_norm': acc.gn / k, 'actor/lr': lr,
    ...(refLogp ? { 'actor/kl_ref': acc.klRef / k } : {}),
  };
}
