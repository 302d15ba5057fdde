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
 * The decoder runs once over the sequence; lm_head and the log-softmax then run over chunks of
 * positions, and only over the scored window (from the first response column), so the (B, T, V)
 * logits and log-softmax of a full pass are never held at once in forward-only scoring. With
 * gradients on, autograd keeps each chunk's logits for the backward pass (B·R·V values for R
 * scored positions; eager PyTorch keeps logits and log-softmax, twice that).
 */
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { positionIdsFromMask, type CausalLM } from './model.js';

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
  /** Cap on B × positions × V logits per lm_head chunk. Default 2²⁴ (64 MiB of float32). */
  chunkElements?: number;
}

export interface LogprobsResult {
  /** (B, T) float32 (float64 for a float64 model); differentiable when grad mode is on. */
  logprobs: Tensor;
  /** (B, T) entropies in nats, when `withEntropy`. */
  entropy?: Tensor;
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
    const h = hidden.narrow(1, start - 1, R); // (B, R, D): predicts columns start … T−1
    const targets = inputIds.narrow(1, start, R); // (B, R)
    const V = model.config.vocabSize;
    const step = Math.max(1, Math.floor((opts.chunkElements ?? 2 ** 24) / (B * V)));
    const lps: Tensor[] = [], ents: Tensor[] = [];
    for (let s = 0; s < R; s += step) {
      const c = Math.min(step, R - s);
      let z = model.logits(h.narrow(1, s, c)); // (B, c, V)
      if (temperature !== 1) z = z.div(temperature);
      lps.push(torch.tokenLogprobs(z, targets.narrow(1, s, c)));
      if (opts.withEntropy) ents.push(torch.entropyFromLogits(z));
    }
    const align = (parts: Tensor[]): Tensor => {
      let out = parts.length === 1 ? parts[0]! : torch.cat(parts, 1); // (B, R)
      if (start > 0) out = torch.cat([torch.zeros([B, start], { dtype: out.dtype }), out], 1); // (B, T)
      if (opts.responseMask) return out.mul(opts.responseMask.to(out.dtype));
      if (opts.attentionMask) {
        // a token is scored when it and its predecessor are real (not after left padding)
        const real = opts.attentionMask.to(out.dtype);
        return out.mul(real).mul(torch.cat([torch.zeros([B, 1], { dtype: out.dtype }), real.narrow(1, 0, T - 1)], 1));
      }
      return out;
    };
    const result: LogprobsResult = { logprobs: align(lps) };
    if (opts.withEntropy) result.entropy = align(ents);
    return result;
  });
}
