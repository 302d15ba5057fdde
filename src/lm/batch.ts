/**
 * Token batches as the model consumes them: prompts left-padded to one length (so every row's
 * last prompt token is in the same column and generation appends in lockstep), responses
 * right-padded after them.
 *
 *   column:        0 … Lp−1                Lp … Lp+Lr−1
 *   row b:    [pad … pad, prompt_b]   [response_b, pad … pad]
 */
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

export interface PackedBatch {
  /** (B, T) int64 token ids, T = Lp + Lr. */
  inputIds: Tensor;
  /** (B, T) int64, 1 on real tokens, 0 on padding. */
  attentionMask: Tensor;
  /** (B, T) float32, 1 on response tokens (what is scored and trained), 0 elsewhere. */
  responseMask: Tensor;
  /** Lp: the column where every response starts. */
  responseStart: number;
}

function check(ids: number[], what: string, i: number): void {
  for (const x of ids) if (!Number.isInteger(x) || x < 0) throw new RangeError(`${what} ${i}: token id ${x} is not a non-negative integer`);
}

/** Left-pads prompts: ids (B, Lp) int64 and mask (B, Lp) int64. */
export function leftPad(prompts: number[][], padTokenId: number): { inputIds: Tensor; attentionMask: Tensor; length: number } {
  if (prompts.length === 0) throw new RangeError('leftPad: no prompts');
  const L = Math.max(...prompts.map((p) => p.length));
  const ids = new BigInt64Array(prompts.length * L).fill(BigInt(padTokenId));
  const mask = new BigInt64Array(prompts.length * L);
  prompts.forEach((p, b) => {
    if (p.length === 0) throw new RangeError(`leftPad: prompt ${b} is empty`);
    check(p, 'prompt', b);
    const off = b * L + (L - p.length);
    for (let j = 0; j < p.length; j++) {
      ids[off + j] = BigInt(p[j]!);
      mask[off + j] = 1n;
    }
  });
  const shape = [prompts.length, L];
  return { inputIds: torch.tensor(ids, { shape }), attentionMask: torch.tensor(mask, { shape }), length: L };
}

/** Packs prompt/response pairs: prompts left-padded to Lp, responses right-padded to Lr. */
export function packSequences(prompts: number[][], responses: number[][], padTokenId: number): PackedBatch {
  if (prompts.length !== responses.length) throw new RangeError(`packSequences: ${prompts.length} prompts but ${responses.length} responses`);
  const B = prompts.length;
  const Lp = Math.max(...prompts.map((p) => p.length));
  const Lr = Math.max(1, ...responses.map((r) => r.length));
  const T = Lp + Lr;
  const ids = new BigInt64Array(B * T).fill(BigInt(padTokenId));
  const mask = new BigInt64Array(B * T);
  const resp = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    const p = prompts[b]!, r = responses[b]!;
    if (p.length === 0) throw new RangeError(`packSequences: prompt ${b} is empty`);
    check(p, 'prompt', b);
    check(r, 'response', b);
    for (let j = 0; j < p.length; j++) {
      ids[b * T + Lp - p.length + j] = BigInt(p[j]!);
      mask[b * T + Lp - p.length + j] = 1n;
    }
    for (let j = 0; j < r.length; j++) {
      ids[b * T + Lp + j] = BigInt(r[j]!);
      mask[b * T + Lp + j] = 1n;
      resp[b * T + Lp + j] = 1;
    }
  }
  const shape = [B, T];
  return {
    inputIds: torch.tensor(ids, { shape }),
    attentionMask: torch.tensor(mask, { shape }),
    responseMask: torch.tensor(resp, { shape }),
    responseStart: Lp,
  };
}
