/**
 * Evaluation of a model on prompt rows: greedy accuracy, and with K samples avg@K (mean score),
 * maj@K (the most frequent extracted answer is graded) and pass@K (any sample correct).
 */
import { generate, type CausalLM, type Tokenizer } from '../lm/index.js';
import * as torch from '../torch/index.js';
import type { PromptRow } from './data.js';
import type { Verifier } from './verifier.js';

export interface EvalOptions {
  samples: number;
  greedy: boolean;
  maxNewTokens: number;
  temperature?: number;
  topP?: number;
  /** Prompts per generate call. */
  batch?: number;
  /** Also return every sample's text and score. */
  keepSamples?: boolean;
  stopTokenIds: number[];
  padTokenId: number;
}
export interface EvalResult {
  prompts: number;
  /** Mean score of all samples (= accuracy when greedy). */
  avgAtK: number;
  majAtK: number;
  passAtK: number;
  meanLength: number;
  /** With `keepSamples`: every sample (prompt-major), its generated token ids and the grader's extracted answer. */
  samples?: { prompt: number; text: string; score: number; tokenIds: number[]; extracted: string | null }[];
}

export async function evaluateModel(model: CausalLM, tokenizer: Tokenizer, rows: PromptRow[], verifier: Verifier, o: EvalOptions): Promise<EvalResult> {
  const K = o.greedy ? 1 : o.samples;
  const per = Math.max(1, o.batch ?? 16);
  let sum = 0, maj = 0, pass = 0, len = 0;
  const kept: NonNullable<EvalResult['samples']> = [];
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    const samples = torch.noGrad(() => generate(model, chunk.map((r) => tokenizer.encodeChat(r.messages, { addGenerationPrompt: true })), {
      n: K, maxNewTokens: o.maxNewTokens, greedy: o.greedy, temperature: o.temperature ?? 1, topP: o.topP ?? 1,
      stopTokenIds: o.stopTokenIds, tokenizer, padTokenId: o.padTokenId,
    }));
    for (const [j, row] of chunk.entries()) {
      const mine = samples.slice(j * K, (j + 1) * K);
      const results = await Promise.all(mine.map((s) => verifier(row, s.text)));
      const scores = results.map((r) => r.score);
      if (o.keepSamples) mine.forEach((s, k) => kept.push({ prompt: i + j, text: s.text, score: scores[k]!, tokenIds: s.tokenIds, extracted: results[k]!.extracted ?? null }));
      sum += scores.reduce((a, b) => a + b, 0) / K;
      pass += Math.max(...scores);
      len += mine.reduce((a, s) => a + s.tokenIds.length, 0) / K;
      // majority vote over extracted answers (ties: the first to reach the count)
      const votes = new Map<string, { n: number; score: number }>();
      let best = { n: 0, score: 0 };
      results.forEach((r, k) => {
        const key = r.extracted ?? `<none:${k}>`;
        const v = votes.get(key) ?? { n: 0, score: r.score };
        v.n++;
        votes.set(key, v);
        if (v.n > best.n) best = v;
      });
      maj += best.score;
    }
  }
  const n = Math.max(1, rows.length);
  return { prompts: rows.length, avgAtK: sum / n, majAtK: maj / n, passAtK: pass / n, meanLength: len / n, ...(o.keepSamples ? { samples: kept } : {}) };
}
