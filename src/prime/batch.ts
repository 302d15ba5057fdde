/**
 * Packing prompts and responses into the tensors every scorer uses:
 *
 *   inputIds (N, P + T):  [pad … pad p_1 … p_m | y_1 … y_n pad … pad]
 *                          left-padded prompt   right-padded response
 *   attentionMask (N, P + T): 1 on real tokens
 *   responseMask (N, T): 1 on y_1 … y_n
 *
 * The log-prob of response token t comes from the logits at position P + t − 1.
 */
import { Tensor, tensor, tidy } from '../torch/index.js';

export interface SequenceBatch {
  inputIds: Tensor;
  attentionMask: Tensor;
  responseMask: Tensor;
  /** P, the padded prompt length. */
  promptLength: number;
  /** T, the padded response length. */
  responseLength: number;
}

/** Packs N (prompt, response) token lists. `padId` fills the padding (its value never matters). */
export function packSequences(prompts: number[][], responses: number[][], padId: number): SequenceBatch {
  if (prompts.length !== responses.length) throw new Error(`packSequences: ${prompts.length} prompts but ${responses.length} responses`);
  const N = prompts.length;
  const P = Math.max(1, ...prompts.map((p) => p.length));
  const T = Math.max(1, ...responses.map((r) => r.length));
  const ids = new Float64Array(N * (P + T)).fill(padId);
  const am = new Float64Array(N * (P + T));
  const rm = new Float64Array(N * T);
  for (let i = 0; i < N; i++) {
    const p = prompts[i]!, r = responses[i]!;
    const row = i * (P + T);
    for (let k = 0; k < p.length; k++) {
      ids[row + P - p.length + k] = p[k]!;
      am[row + P - p.length + k] = 1;
    }
    for (let k = 0; k < r.length; k++) {
      ids[row + P + k] = r[k]!;
      am[row + P + k] = 1;
      rm[i * T + k] = 1;
    }
  }
  return tidy(() => ({
    inputIds: tensor(ids, { shape: [N, P + T] }).to('int64'),
    attentionMask: tensor(am, { shape: [N, P + T] }).to('int64'),
    responseMask: tensor(rm, { shape: [N, T] }).to('float32'),
    promptLength: P,
    responseLength: T,
  }));
}

/** Rows `idx` of every tensor of a batch (for micro-batches and PPO mini-batches). */
export function selectRows(b: SequenceBatch, idx: Tensor): SequenceBatch {
  return tidy(() => ({
    inputIds: b.inputIds.indexSelect(0, idx),
    attentionMask: b.attentionMask.indexSelect(0, idx),
    responseMask: b.responseMask.indexSelect(0, idx),
    promptLength: b.promptLength,
    responseLength: b.responseLength,
  }));
}

/** Right-pads per-row float lists to a (N, T) tensor. */
export function padRows(rows: number[][], T: number, fill = 0): Tensor {
  const out = new Float32Array(rows.length * T).fill(fill);
  rows.forEach((r, i) => r.slice(0, T).forEach((v, k) => (out[i * T + k] = v)));
  return tensor(out, { shape: [rows.length, T] });
}

export function disposeBatch(b: SequenceBatch): void {
  b.inputIds.dispose();
  b.attentionMask.dispose();
  b.responseMask.dispose();
}
