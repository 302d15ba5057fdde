/**
 * Per-token log-probabilities of given sequences — what PRIME needs from the policy, the implicit
 * PRM and the reference model for every response token:
 *
 *   logp[b, t] = log softmax(z[b, t−1] / temperature)[x[b, t]],   z[b, t−1] = lm_head(h[b, t−1])
 *
 * The output is aligned with the input (B, T): entry t is the log-prob of token t given tokens < t.
 * It is 0 where nothing is scored: t = 0, columns before the scored window, outside the response
 * mask when one is given, else wherever token t or t−1 is padding — so a masked sum over the
 * response needs no re-indexing.
 *
 * The decoder runs once over the sequence (tokens 0 … T−2); lm_head and the log-softmax run only
 * over the scored positions: the window's columns whose token is scored (padding removed). Without gradients they run over blocks of rows × slices of the
 * vocabulary (≤ 2²⁴ logits at once, each slice of lm_head's weight read once per block, the
 * logsumexp merged across slices), so the (B, T, V) logits and log-softmax of a full pass are
 * never held — V is 151,936 for Qwen2.5. With gradients on, the logits of the R scored positions
 * are computed in one piece and kept for the backward pass (B·R·V values; eager PyTorch keeps
 * logits and log-softmax, twice that): pieces would all be kept the same, and each would cost a
 * (V, D) weight-gradient GEMM of its own.
 */
import * as torch from '../torch/index.js';
import type { Device, Tensor } from '../torch/index.js';
import { positionIdsFromMask, type CausalLM } from './model.js';
import { KVCache } from './kvcache.js';

export interface LogprobsOptions {
  /** (B, T) 1 on real tokens, 0 on (left or right) padding. Default: no padding. */
  attentionMask?: Tensor | null;
  /** (B, T) 1 where the log-prob is wanted (response tokens); the output is 0 elsewhere. */
  responseMask?: Tensor | null;
  /**
   * First scored column (every row's response starts here with left-padded prompts). Default: the
   * first column where responseMask has a 1, else 1. Columns before it are 0 in the output.
   */
  responseStart?: number;
  /** Divides the logits, as sampling did (PPO recomputes the sampler's log-probs). Default 1. */
  temperature?: number;
  /** Also return the entropy of each predictive distribution, aligned like the log-probs. */
  withEntropy?: boolean;
  /**
   * Further temperatures to score at from the same decoder pass (only lm_head and the log-softmax
   * run again): e.g. the reference at temperature 1 for the implicit PRM and at the rollout
   * temperature for a KL term. Returned in `logprobsAt`, in this order.
   */
  alsoTemperatures?: number[];
  /**
   * Cap on the logits held at once (rows × vocabulary slice). Default without gradients: 2²⁴
   * (64 MiB of float32) on the CPU, where a slice that stays in cache is faster, and 2³⁰ (4 GiB)
   * on a GPU, where one large product per 4096 rows beats many small launches; with gradients,
   * unset means one piece (see above).
   */
  chunkElements?: number;
}

export interface LogprobsResult {
  /** (B, T) float32 (float64 for a float64 model), on inputIds' device; differentiable when grad mode is on. */
  logprobs: Tensor;
  /** (B, T) entropies in nats, when `withEntropy`. */
  entropy?: Tensor;
  /** (B, T) log-probs at each of `alsoTemperatures`, aligned like `logprobs`. */
  logprobsAt?: Tensor[];
}

/** Log-prob (and optionally entropy) of every token of inputIds (B, T) int64 under the model. */
export function logprobs(model: CausalLM, inputIds: Tensor, opts: LogprobsOptions = {}): LogprobsResult {
  const [B, T] = inputIds.shape as [number, number];
  if (T < 2) throw new RangeError('logprobs: sequences need at least 2 tokens (the first has no prediction)');
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) throw new RangeError(`logprobs: temperature must be > 0, got ${temperature}`);
  return torch.tidy(() => {
    let start = opts.responseStart;
    if (start === undefined) {
      start = 1;
      if (opts.responseMask) {
        const cols = opts.responseMask.ne(0).any(0).nonzero();
        start = cols.numel ? Math.max(1, cols.min().item()) : T;
      }
    }
    if (!Number.isInteger(start) || start < 1 || start > T) throw new RangeError(`logprobs: responseStart ${start} outside [1, ${T}]`);
    const R = T - start; // scored positions
    // the last token is only ever a target: run the decoder on tokens 0 … T−2
    const ids = inputIds.narrow(1, 0, T - 1);
    let hidden: Tensor;
    if (opts.attentionMask) {
      const mask = opts.attentionMask.narrow(1, 0, T - 1);
      hidden = model.forward(ids, { positionIds: positionIdsFromMask(mask), maxPosition: T - 2, attentionMask: mask });
    } else hidden = model.forward(ids);
    const dev = model.device;
    const onDev = (t: Tensor): Tensor => (t.device === hidden.device ? t : t.to(dev));
    const D = hidden.size(2);
    let h = hidden.narrow(1, start - 1, R).reshape(B * R, D); // (B·R, D): predicts columns start … T−1
    let targets = onDev(inputIds.narrow(1, start, R)).reshape(B * R); // (B·R)
    for (const tau of opts.alsoTemperatures ?? []) if (!(tau > 0)) throw new RangeError(`logprobs: alsoTemperatures must be > 0, got ${tau}`);
    // Padding removed (as verl's remove-padding): lm_head and the log-softmax run on the N scored
    // positions of the window only, gathered into (N, D), and the results go back to their places;
    // the others are 0 in the output anyway (see align). Right-padded responses of mixed lengths
    // leave a quarter to a half of the window unscored.
    const scored = R > 0 ? scoredPositions(opts, start, R, onDev) : null; // (B·R) bool or null: all scored
    let idx: Tensor | null = null;
    const at = scored ? scored.nonzero().view(-1) : null; // (N) positions scored
    if (at && at.numel < B * R) {
      idx = at;
      h = h.indexSelect(0, idx);
      targets = targets.indexSelect(0, idx);
    }
    const N = h.size(0);
    const unpack = (x: Tensor): Tensor => (idx ? torch.zeros([B * R], { dtype: x.dtype, device: dev }).indexPut([idx], x) : x).view(B, R);
    let lp: Tensor, ent: Tensor | null = null; // (B, R)
    const extra: Tensor[] = [];
    if (N === 0) {
      lp = torch.zeros([B, R], { dtype: hidden.dtype === 'float64' ? 'float64' : 'float32', device: dev });
      // nothing scored: zeros, still joined to the graph under grad, so a loss over them backprops (to zero gradients)
      if (torch.isGradEnabled() && hidden.requiresGrad) lp = lp.add(hidden.sum().mul(0));
      ent = opts.withEntropy ? lp : null;
      for (const _ of opts.alsoTemperatures ?? []) extra.push(lp);
    } else if (torch.isGradEnabled() && opts.chunkElements === undefined) {
      // Autograd keeps the logits for the backward pass however they are split, and each piece
      // would add a (V, D) weight-gradient GEMM of its own: one piece.
      const logits = upcast(model.logits(h)); // (N, V), float32 for a bf16 model
      const z = temperature !== 1 ? logits.div(temperature) : logits;
      lp = unpack(torch.tokenLogprobs(z, targets));
      if (opts.withEntropy) ent = unpack(torch.entropyFromLogits(z));
      for (const tau of opts.alsoTemperatures ?? []) extra.push(unpack(torch.tokenLogprobs(tau !== 1 ? logits.div(tau) : logits, targets)));
    } else {
      const budget = opts.chunkElements ?? (dev === 'cpu' ? 2 ** 24 : 2 ** 30);
      const out = chunkedHead(model, h, targets, temperature, opts.withEntropy ?? false, budget);
      lp = unpack(out.lp);
      if (out.ent) ent = unpack(out.ent);
      for (const tau of opts.alsoTemperatures ?? []) extra.push(unpack(chunkedHead(model, h, targets, tau, false, budget).lp));
    }
    const align = (win: Tensor): Tensor => {
      let out = win; // (B, R)
      if (start > 0) out = torch.cat([torch.zeros([B, start], { dtype: out.dtype, device: dev }), out], 1); // (B, T)
      if (opts.responseMask) return out.mul(onDev(opts.responseMask).to(out.dtype));
      if (opts.attentionMask) {
        // a token is scored when it and its predecessor are real (not after left padding)
        const real = onDev(opts.attentionMask).to(out.dtype);
        return out.mul(real).mul(torch.cat([torch.zeros([B, 1], { dtype: out.dtype, device: dev }), real.narrow(1, 0, T - 1)], 1));
      }
      return out;
    };
    // results live where the caller's token ids do (a GPU model scored from CPU ids returns CPU
    // tensors; autograd carries gradients back across the copy)
    const back = (t: Tensor): Tensor => (t.device === inputIds.device ? t : t.to(inputIds.device as Device));
    const result: LogprobsResult = { logprobs: back(align(lp)) };
    if (ent) result.entropy = back(align(ent));
    if (opts.alsoTemperatures) result.logprobsAt = extra.map((t) => back(align(t)));
    return result;
  });
}

/**
 * The positions of the scored window (columns start … start+R−1) whose log-prob is kept, flattened
 * (B·R) bool: responseMask ≠ 0 there; else, with an attention mask, token t and its predecessor
 * both real; null when there is no mask (all scored).
 */
function scoredPositions(opts: LogprobsOptions, start: number, R: number, onDev: (t: Tensor) => Tensor): Tensor | null {
  if (opts.responseMask) return onDev(opts.responseMask.narrow(1, start, R).ne(0)).reshape(-1);
  if (opts.attentionMask) {
    const real = onDev(opts.attentionMask).ne(0);
    return real.narrow(1, start, R).logicalAnd(real.narrow(1, start - 1, R)).reshape(-1);
  }
  return null;
}

/**
 * bf16 / fp16 logits → float32 before the temperature and the log-softmax (as transformers'
 * `logits.float()`): the GEMM runs in the model's dtype, the normalization over V does not.
 */
function upcast(logits: Tensor): Tensor {
  return logits.dtype === 'bfloat16' || logits.dtype === 'float16' ? logits.to('float32') : logits;
}

/**
 * lm_head + log-softmax over N rows without holding N × V logits: rows in blocks, and the
 * vocabulary of each block in slices of ≤ `budget` / rows columns, so each slice of lm_head's
 * weight is read once per block. Across slices a running max m, Σ e^{z−m} and Σ e^{z−m}·z give
 * logsumexp (lse = m + log Σ) and the entropy (lse − Σ e^{z−m}z / Σ e^{z−m}); the target's
 * logit is picked from the slice that holds it. h (N, D), targets (N) → lp (N), entropy (N)?.
 */
function chunkedHead(model: CausalLM, h: Tensor, targets: Tensor, temperature: number, withEntropy: boolean, budget: number): { lp: Tensor; ent: Tensor | null } {
  const Nr = h.size(0);
  const V = model.config.vocabSize;
  const W = model.lmHeadWeight; // (V, D)
  const rowsPerBlock = Math.max(1, Math.min(Nr, 4096));
  const cols = Math.max(1, Math.min(V, Math.floor(budget / rowsPerBlock)));
  const lps: Tensor[] = [], ents: Tensor[] = [];
  for (let r0 = 0; r0 < Nr; r0 += rowsPerBlock) {
    const rows = Math.min(rowsPerBlock, Nr - r0);
    const hb = h.narrow(0, r0, rows), tb = targets.narrow(0, r0, rows);
    if (cols === V) {
      // the whole vocabulary fits: one product
      const z = torch.tidy(() => {
        const l = upcast(model.logits(hb));
        return temperature === 1 ? l : l.div(temperature);
      });
      lps.push(torch.tokenLogprobs(z, tb));
      if (withEntropy) ents.push(torch.entropyFromLogits(z));
      z.dispose();
      continue;
    }
    const acc = torch.tidy(() => {
      const dt = h.dtype === 'float64' ? 'float64' : 'float32';
      const o = { dtype: dt, device: model.device } as const;
      return { m: torch.full([rows], -Infinity, o), s: torch.zeros([rows], o), t: torch.zeros([rows], o), picked: torch.zeros([rows], o) };
    });
    for (let v0 = 0; v0 < V; v0 += cols) {
      const c = Math.min(cols, V - v0);
      const next = torch.tidy(() => {
        let z = torch.linear(hb, W.narrow(0, v0, c)).to(acc.m.dtype); // (rows, c)
        if (temperature !== 1) z = z.div(temperature);
        const m = torch.maximum(acc.m, z.max(1)[0]);
        const e = z.sub(m.unsqueeze(1)).exp();
        const decay = acc.m.sub(m).exp(); // e^{m_old − m_new}; 0 on the first slice
        const inSlice = tb.ge(v0).logicalAnd(tb.lt(v0 + c));
        const zt = z.gather(1, tb.sub(v0).clamp(0, c - 1).unsqueeze(1)).squeeze(1);
        return {
          m,
          s: acc.s.mul(decay).add(e.sum(1)),
          t: withEntropy ? acc.t.mul(decay).add(e.mul(z).sum(1)) : acc.t.clone(),
          picked: torch.where(inSlice, zt, acc.picked),
        };
      });
      torch.dispose(acc);
      Object.assign(acc, next);
    }
    const lse = acc.m.add(acc.s.log());
    lps.push(acc.picked.sub(lse));
    if (withEntropy) ents.push(lse.sub(acc.t.div(acc.s)));
    torch.dispose(acc);
  }
  const cat = (xs: Tensor[]) => (xs.length === 1 ? xs[0]! : torch.cat(xs, 0));
  return { lp: cat(lps), ent: withEntropy ? cat(ents) : null };
}

export interface SharedPromptOptions {
  /** Divides the logits (default 1). */
  temperature?: number;
  /** Further temperatures from the same decoder passes, returned in `logprobsAt` (see LogprobsOptions). */
  alsoTemperatures?: number[];
  /** Also return the entropy (nats) of each position's distribution at `temperature`, in `entropy` ((N, Lr), 0 off the mask). */
  withEntropy?: boolean;
}

/**
 * Response log-probs of K responses per prompt, each prompt run through the decoder once: the
 * B prompts (left-padded, (B, Lp)) fill a key/value cache, its rows are repeated K times, and the
 * N = B·K responses ((N, Lr), right-padded; rows b·K … b·K + K − 1 answer prompt b) attend to it.
 * The same function as `logprobs` over the packed (N, Lp + Lr) rows — each response sees its
 * prompt and its own earlier tokens, at the same positions — up to float rounding, with
 * B·Lp + N·Lr decoder tokens instead of N·(Lp + Lr) (GRPO-style sampling shares every prompt K
 * ways). Differentiable when grad mode is on (the prompt's activations collect the gradients of
 * all K responses); the model's gradientCheckpointing does not apply here. Values with and
 * without gradients are bit-identical (the same ops either way).
 *
 * promptIds / promptMask (B, Lp) int64; responseIds / responseMask (N, Lr) (mask 1 on response
 * tokens). Returns (N, Lr) float32 log-probs (float64 for a float64 model), 0 where responseMask is
 * 0, on promptIds' device: entry j is log p(response token j | prompt, response tokens < j).
 */
export function sharedPromptLogprobs(model: CausalLM, promptIds: Tensor, promptMask: Tensor, responseIds: Tensor, responseMask: Tensor, K: number, opts: SharedPromptOptions = {}): LogprobsResult {
  const [B, Lp] = promptIds.shape as [number, number];
  const [N, Lr] = responseIds.shape as [number, number];
  if (N !== B * K) throw new RangeError(`sharedPromptLogprobs: ${N} responses for ${B} prompts × K=${K}`);
  if (Lr < 1) throw new RangeError('sharedPromptLogprobs: responses need at least 1 column');
  const temperature = opts.temperature ?? 1;
  for (const tau of [temperature, ...(opts.alsoTemperatures ?? [])]) if (!(tau > 0)) throw new RangeError(`sharedPromptLogprobs: temperatures must be > 0, got ${tau}`);
  const grad = torch.isGradEnabled();
  const dev = model.device;
  // The cache grows by concatenation (autograd records it) and the layers run op by op, with or
  // without gradients alike: a model scored here with gradients (a PRM being trained) and an equal
  // one scored without (its reference) give bit-identical log-probs, so their implicit reward is 0.
  const cache = new KVCache(model.config, B, Lp + Lr, model.dtype, 'cat', dev);
  try {
    return torch.tidy(() => {
      const onDev = (t: Tensor): Tensor => (t.device === dev ? t : t.to(dev));
      const pm = onDev(promptMask);
      const hp = model.forward(promptIds, { positionIds: positionIdsFromMask(pm), maxPosition: Lp - 1, attentionMask: pm, cache }); // (B, Lp, D)
      const rows = torch.arange(B, undefined, 1, { device: dev }).repeatInterleave(K); // (N): prompt of each response
      cache.selectRows(rows);
      const rm = onDev(responseMask);
      let h = hp.select(1, Lp - 1).indexSelect(0, rows).unsqueeze(1); // (N, 1, D): the last prompt token predicts response token 0
      if (Lr > 1) {
        const plen = pm.to('int64').sum(1).indexSelect(0, rows).unsqueeze(1); // (N, 1)
        const pos = plen.add(torch.arange(Lr - 1, undefined, 1, { device: dev }).unsqueeze(0)); // (N, Lr − 1)
        const keyMask = torch.cat([pm.ne(0).indexSelect(0, rows), rm.narrow(1, 0, Lr - 1).ne(0)], 1); // (N, Lp + Lr − 1)
        const hr = model.forward(responseIds.narrow(1, 0, Lr - 1), { positionIds: pos, maxPosition: Lp + Lr - 2, attentionMask: keyMask, cache }); // (N, Lr − 1, D)
        h = torch.cat([h, hr], 1); // (N, Lr, D)
      }
      const targets = onDev(responseIds);
      let entropy: Tensor | null = null;
      const head = (tau: number, withEntropy = false): Tensor => {
        if (grad) {
          const z = upcast(model.logits(h)); // (N, Lr, V)
          const zt = tau !== 1 ? z.div(tau) : z;
          if (withEntropy) entropy = torch.entropyFromLogits(zt);
          return torch.tokenLogprobs(zt, targets);
        }
        const r = chunkedHead(model, h.reshape(N * Lr, -1), targets.reshape(N * Lr), tau, withEntropy, 2 ** 24);
        if (r.ent) entropy = r.ent.view(N, Lr);
        return r.lp.view(N, Lr);
      };
      const back = (t: Tensor): Tensor => (t.device === promptIds.device ? t : t.to(promptIds.device as Device));
      const out = (t: Tensor): Tensor => back(t.mul(rm.to(t.dtype)));
      const result: LogprobsResult = { logprobs: out(head(temperature, opts.withEntropy ?? false)) };
      if (entropy) result.entropy = out(entropy);
      if (opts.alsoTemperatures) result.logprobsAt = opts.alsoTemperatures.map((tau) => out(head(tau)));
      return result;
    });
  } finally {
    cache.dispose();
  }
}
