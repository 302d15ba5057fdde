/**
 * The policy update (DESIGN §2 step 7): PPO epochs over shuffled mini-batches of actor.mini_batch
 * sequences, micro-batched, with the clipped surrogate (ppoClipLoss; actor.clip_low / clip_high,
 * each 0 = actor.clip_eps), an optional entropy bonus and an optional KL term to the reference (at
 * the rollout temperature, like the policy's log-probs; scored only when algorithm.kl_coef > 0;
 * coefficient t.klCtrl.value), per-token terms summed and aggregated over each mini-batch by
 * actor.loss_agg (aggregateLoss; seq-mean-token-sum-norm divides by data.max_response_length);
 * gradient clipping; AdamW.
 *
 * Data-parallel: the shuffle is one permutation of the global batch, the same on every rank
 * (seeded: `rollout.seed_per_prompt`); each rank backpropagates the members of each global
 * mini-batch it holds, each micro-batch's Σ loss divided by the global mini-batch's tokens
 * (token-mean; counts summed over ranks once per epoch) or sequences (seq-mean-*), so the parts
 * sum to the mini-batch's aggregate, and the gradients are summed over ranks before
 * clipping. The update is that of one process on the whole batch; a rank's share of a
 * mini-batch varies around mini_batch / W (it may be empty: it then adds zero gradients).
 *
 * Shared prompts: when one mini-batch is the whole batch (actor.mini_batch ≥ the global batch), the
 * rows are taken in batch order in micro-batches of whole prompt groups (micro_batch rounded down
 * to a multiple of K, at least K), and each prompt is decoded once for its K responses
 * (prime-ts/lm's sharedPromptLogprobs, as the PRM's update does): the same loss and gradient up to
 * float rounding, with B·Lp + N·Lr decoder tokens instead of N·(Lp + Lr).
 *
 * Shapes: N sequences on this rank, packed (N, P + T); oldLogp, advantages, refLogp, mask (N, T).
 */
import * as torch from '../../torch/index.js';
import { type Tensor, tidy } from '../../torch/index.js';
import { logprobs, type PackedBatch } from '../../lm/index.js';
import { seededPermutation } from '../data.js';
import { ppoClipLoss, klPenalty, aggregateLoss } from '../ppo.js';
import { maskedMean } from '../masked.js';
import type { Metrics } from '../metrics.js';
import type { PrimeTrainer } from '../trainer.js';
import { ppoShuffleSeed } from './seeds.js';
import { responseLogprobsAndEntropy } from './prm.js';
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
  const clipLow = c.actor.clip_low || c.actor.clip_eps, clipHigh = c.actor.clip_high || c.actor.clip_eps;
  const klCoef = t.klCtrl.value;
  // shared prompts (TrainerOptions.sharedPrompts): only when one mini-batch is the whole batch
  // (several mini-batches mix groups after the per-sequence shuffle) and the policy does not
  // checkpoint activations; micro-batches then hold whole groups of K
  const G = mini >= Nall && !t.policy.gradientCheckpointing ? t.policyGroupSize(K) : 1;
  const step = G > 1 ? Math.max(G, micro - (micro % G)) : micro;
  const acc = { loss: 0, clip: 0, kl: 0, ent: 0, gn: 0, n: 0, steps: 0, klRef: 0 };
  const indexTensor = (idx: number[]) => torch.tensor(BigInt64Array.from(idx, BigInt));
  const progress = { done: 0, total: N * c.actor.ppo_epochs, tokens: 0 }; // this rank's sequences, all epochs
  t.onProgress({ phase: 'update', step: t.step, ...progress });
  for (let epoch = 0; epoch < c.actor.ppo_epochs; epoch++) {
    // global sequence indices in shuffled order
    const order = c.rollout.seed_per_prompt
      ? seededPermutation(Nall, ppoShuffleSeed(c.trainer.seed, t.step, epoch))
      : tidy(() => Array.from(torch.randperm(Nall).data() as BigInt64Array, Number));
    // each global mini-batch's members on this rank (local indices), and its tokens over all ranks
    const minis: number[][] = [];
    for (let s = 0; s < Nall; s += mini) minis.push(order.slice(s, s + mini).map((g) => dp.localSeq(g, K)).filter((l) => l >= 0));
    // one mini-batch of the whole batch: its gradient is a sum that no order changes, so take the
    // rows in batch order, micro-batches of whole prompt groups, each prompt decoded once
    if (G > 1) minis[0]!.sort((a, b) => a - b);
    const localTokens = minis.map((idx) => (idx.length ? tidy(() => mask.indexSelect(0, indexTensor(idx)).sum().item()) : 0));
    const miniTokens = dp.reduce(localTokens, 'sum', 'counting mini-batch tokens');
    for (const [j, members] of minis.entries()) {
      const tokens = Math.max(1, miniTokens[j]!);
      const sequences = Math.min(mini, Nall - j * mini); // the global mini-batch's
      for (let i = 0; i < members.length; i += step) {
        tidy(() => {
          const rows = members.slice(i, i + step);
          const idx = indexTensor(rows);
          const mk = mask.indexSelect(0, idx);
          let lp: Tensor, ent: Tensor;
          if (G > 1 && rows[rows.length - 1]! - rows[0]! === rows.length - 1) { // a contiguous run of the batch's rows
            ({ logprobs: lp, entropy: ent } = responseLogprobsAndEntropy(t.policy, batch, rows[0]!, rows.length, G, c.rollout.temperature));
          } else {
            const out = logprobs(t.policy, batch.inputIds.indexSelect(0, idx), {
              attentionMask: batch.attentionMask.indexSelect(0, idx), responseMask: batch.responseMask.indexSelect(0, idx),
              responseStart: P, temperature: c.rollout.temperature, withEntropy: true,
            });
            lp = out.logprobs.narrow(1, P, T);
            ent = out.entropy!.narrow(1, P, T);
          }
          const pg = ppoClipLoss(lp, oldLogp.indexSelect(0, idx), advantages.indexSelect(0, idx), mk, clipLow, clipHigh);
          let tokenLoss = pg.tokenLoss;
          const entropy = maskedMean(ent, mk);
          if (c.algorithm.entropy_coef > 0) tokenLoss = tokenLoss.sub(ent.mul(c.algorithm.entropy_coef));
          // KL to the reference, when one was scored (kl_coef > 0): at the rollout temperature, like lp
          const klTok = refLogp ? klPenalty(lp, refLogp.indexSelect(0, idx), mk, c.algorithm.kl_estimator) : null;
          const kl = klTok ? maskedMean(klTok, mk) : null;
          if (klTok && c.algorithm.kl_mode === 'loss') tokenLoss = tokenLoss.add(klTok.mul(klCoef));
          // this micro-batch's part of the (global) mini-batch's aggregate loss
          const loss = aggregateLoss(tokenLoss, mk, c.actor.loss_agg, { normalizer: c.data.max_response_length, batchTokens: tokens, batchSequences: sequences });
          loss.backward();
          t.policyWeights.afterBackward(); // bf16: into the float32 masters' gradients
          const lv = loss.item();
          if (!Number.isFinite(lv)) throw new TrainingDivergedError('policy loss', t.step, lv);
          const share = mk.sum().item() / tokens; // token-mean metrics
          acc.loss += lv; acc.clip += pg.clipFraction * share; acc.kl += pg.approxKl * share;
          acc.ent += entropy.item() * share; acc.klRef += (kl ? kl.item() : 0) * share;
          progress.done += mk.size(0);
          progress.tokens += share * tokens;
          t.onProgress({ phase: 'update', step: t.step, ...progress });
        });
      }
      const w = t.policyWeights.optimized; // the float32 masters under actor.dtype=bfloat16
      dp.allReduceGradients(w, 'policy');
      const gn = torch.clipGradNorm(w, c.actor.grad_clip);
      if (!Number.isFinite(gn)) throw new TrainingDivergedError('policy grad norm', t.step, gn);
      t.policyOpt.step();
      t.policyOpt.zeroGrad();
      t.policyWeights.afterStep();
      acc.gn += gn;
      acc.steps++;
    }
  }
  // each rank summed its part of every mini-batch's loss and token-means: sum over ranks
  [acc.loss, acc.clip, acc.kl, acc.ent, acc.klRef] = dp.reduce([acc.loss, acc.clip, acc.kl, acc.ent, acc.klRef], 'sum', 'reducing policy metrics') as [number, number, number, number, number];
  const k = Math.max(1, acc.steps);
  return {
    'actor/pg_loss': acc.loss / k, 'actor/clip_fraction': acc.clip / k, 'actor/approx_kl': acc.kl / k,
    'actor/entropy': acc.ent / k, 'actor/grad_norm': acc.gn / k, 'actor/lr': lr,
    ...(refLogp ? { 'actor/kl_ref': acc.klRef / k } : {}),
  };
}
