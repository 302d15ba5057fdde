/**
 * Model FLOPs and MFU (model FLOPs utilisation) against this machine's measured sgemm peak.
 *
 * FLOPs count the matrix multiplies of a decoder-only transformer (Kaplan et al. 2020 §2.1;
 * Chowdhery et al. 2022, PaLM, App. B): per token 2 FLOPs per weight of every linear layer
 * (q/k/v/o projections, the gated MLP's gate/up/down, lm_head where logits are needed), plus the
 * attention term, 2·2·H·Dh FLOPs per (query, key) pair per layer (QKᵀ and A·V). Norms, RoPE,
 * softmax, SiLU, biases and the embedding lookup are not counted (the usual convention; they are
 * well under 1% here). A backward costs twice a forward (gradients of inputs and of weights), so
 * forward+backward = 3× forward (PaLM App. B). MFU = model FLOPs / seconds / peak FLOP/s, with
 * the peak measured as this process's float32 matmul rate at the current thread count.
 */
import * as torch from '../torch/index.js';
import type { LMConfig } from '../lm/config.js';

type FlopShape = Pick<LMConfig, 'vocabSize' | 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim'>;

/** FLOPs of the linear layers of all blocks for one token (lm_head excluded). */
export function blockLinearFlopsPerToken(c: FlopShape): number {
  const D = c.hiddenSize, qd = c.numHeads * c.headDim, kvd = c.numKvHeads * c.headDim;
  const attn = D * qd /* q */ + 2 * D * kvd /* k, v */ + qd * D; /* o */
  const mlp = 3 * D * c.intermediateSize; // gate, up, down
  return 2 * c.numLayers * (attn + mlp);
}

/**
 * Forward FLOPs of one sequence of `seqLen` tokens, with logits at `lmHeadTokens` positions
 * (default: all). `attention: 'causal'` counts the (query, key) pairs a causal mask keeps,
 * S(S+1)/2 per head and layer — what a KV-cached generation of the same tokens also computes;
 * `'full'` counts S² (what a dense SDPA kernel multiplies, and what torch's FlopCounterMode reports).
 */
export function forwardFlops(c: FlopShape, seqLen: number, opts: { lmHeadTokens?: number; attention?: 'causal' | 'full' } = {}): number {
  const S = seqLen;
  const lm = opts.lmHeadTokens ?? S;
  const pairs = (opts.attention ?? 'causal') === 'causal' ? (S * (S + 1)) / 2 : S * S;
  const attn = 4 * c.numLayers * c.numHeads * c.headDim * pairs;
  return blockLinearFlopsPerToken(c) * S + 2 * c.hiddenSize * c.vocabSize * lm + attn;
}

/**
 * Model FLOPs of sampling `responseLen` tokens after a `promptLen`-token prompt with a KV cache:
 * the blocks over all prompt + response positions (causal attention), logits at the last prompt
 * position and each sampled one but the last (one per sampled token).
 */
export function generationFlops(c: FlopShape, promptLen: number, responseLen: number): number {
  return forwardFlops(c, promptLen + responseLen, { lmHeadTokens: responseLen });
}

/**
 * Model FLOPs of a policy-gradient update on one (prompt, response) sequence: forward+backward
 * (3× forward) over the whole sequence, logits over the response window only, `epochs` times.
 */
export function trainFlops(c: FlopShape, promptLen: number, responseLen: number, epochs = 1): number {
  return 3 * epochs * forwardFlops(c, promptLen + responseLen, { lmHeadTokens: responseLen });
}

let cachedPeak: number | null = null;

/**
 * This process's float32 matmul peak in FLOP/s: the best of several timed n×n×n matmuls
 * (n = 1024, 2n³ FLOPs each) at the current intra-op thread count, measured once and cached.
 * PRIME_SGEMM_PEAK_GFLOPS (a positive number) replaces the measurement.
 */
export function sgemmPeakFlops(): number {
  if (cachedPeak !== null) return cachedPeak;
  const env = process.env.PRIME_SGEMM_PEAK_GFLOPS;
  if (env !== undefined && env !== '') {
    const g = Number(env);
    if (!Number.isFinite(g) || g <= 0) throw new Error(`PRIME_SGEMM_PEAK_GFLOPS must be a positive number of GFLOP/s, got '${env}'`);
    return (cachedPeak = g * 1e9);
  }
  const n = 1024;
  let best = Infinity;
  torch.tidy(() => {
    // fixed operands, not randn: drawing from the global generator here would shift every later
    // sample of the process that first asks for the peak (a resumed run would not replay the run)
    const a = torch.arange(n * n).remainder(13).sub(6).div(7).view(n, n), b = a.t().contiguous();
    a.matmul(b).dispose(); // warm-up (thread pool, pages)
    const t0 = performance.now();
    for (let i = 0; i < 8 && performance.now() - t0 < 1500; i++) {
      const s = performance.now();
      a.matmul(b).dispose();
      best = Math.min(best, (performance.now() - s) / 1000);
    }
  });
  return (cachedPeak = (2 * n ** 3) / best);
}

/** MFU of `flops` done in `seconds` against `peak` (default: the measured sgemm peak); 0 if no time. */
export function mfu(flops: number, seconds: number, peak = sgemmPeakFlops()): number {
  return seconds > 0 ? flops / seconds / peak : 0;
}

/**
 * The trainer's per-step perf metrics: `perf/mfu_rollout` from the rollout's model FLOPs
 * (`perf/rollout_flops`, summed by collectBatch over every sampled response, filtered ones
 * included) over `time/rollout`, and `perf/mfu_train` from the policy update's FLOPs over
 * `time/policy_update`. `prompts` / `responses`: the token ids trained on this step.
 */
export function stepPerfMetrics(c: FlopShape, m: Record<string, number>, prompts: number[][], responses: number[][], epochs: number): Record<string, number> {
  let train = 0;
  for (let i = 0; i < prompts.length; i++) train += trainFlops(c, prompts[i]!.length, responses[i]!.length, epochs);
  const out: Record<string, number> = { 'perf/train_flops': train, 'perf/sgemm_peak_gflops': sgemmPeakFlops() / 1e9 };
  if (m['time/policy_update'] !== undefined) out['perf/mfu_train'] = mfu(train, m['time/policy_update']);
  if (m['perf/rollout_flops'] !== undefined && m['time/rollout'] !== undefined) out['perf/mfu_rollout'] = mfu(m['perf/rollout_flops'], m['time/rollout']);
  return out;
}
