/**
 * Evaluation of a model on prompt rows: greedy accuracy, and with K samples avg@K (mean score),
 * maj@K (the most frequent extracted answer is graded) and pass@K (any sample correct).
 */
import { generate, sampleSeed, type CausalLM, type Tokenizer } from '../lm/index.js';
import * as torch from '../torch/index.js';
import type { PromptRow } from './data.js';
import type { Verifier } from './verifier.js';

export interface EvalOptions {
  samples: number;
  greedy: boolean;
  maxNewTokens: number;
  temperature?: number;
  topP?: number;
  /** Sample among the k most likely tokens; 0 = off (default). */
  topK?: number;
  /** Prompts per generate call. */
  batch?: number;
  /** Also return every sample's text and score. */
  keepSamples?: boolean;
  /** Keep up to this many failed rows (first sample scored below 1), in row order (`--show-failures N`). */
  failures?: number;
  stopTokenIds: number[];
  padTokenId: number;
  /**
   * Reproducible sampling: row r (its index in `rows`) draws from a generator of its own seeded
   * from (seed, r), so the figures do not depend on `batch`. Default: libtorch's global generator.
   */
  seed?: number;
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
  /** Up to `failures` rows whose first sample scored below 1. */
  failures?: EvalFailure[];
}

/** A failed row as `prime eval --show-failures` prints it: what the grader saw and extracted. */
export interface EvalFailure {
  file: string;
  /** 0-based row in its file. */
  row: number;
  /** 1-based line of a JSONL file. */
  line?: number;
  /** The prompt as the model saw it (chat template applied). */
  prompt: string;
  response: string;
  /** The answer the grader extracted from the response (null: none found). */
  extracted: string | null;
  groundTruth: string;
  score: number;
}

/** Human-readable listing of failed rows (prompt, response, extracted answer, ground truth). */
export function formatFailures(fs: readonly EvalFailure[]): string {
  const bar = '-'.repeat(72);
  return fs.map((f, i) => [
    `${bar}\nfailure ${i + 1}/${fs.length}: ${f.file} row ${f.row}${f.line !== undefined ? ` (line ${f.line})` : ''} (score ${f.score})`,
    `--- prompt\n${f.prompt}`,
    `--- response\n${f.response}`,
    `--- extracted: ${f.extracted === null ? '(none)' : JSON.stringify(f.extracted)}`,
    `--- ground truth: ${JSON.stringify(f.groundTruth)}`,
  ].join('\n')).join('\n') + (fs.length ? `\n${bar}` : '');
}

export async function evaluateModel(model: CausalLM, tokenizer: Tokenizer, rows: PromptRow[], verifier: Verifier, o: EvalOptions): Promise<EvalResult> {
  const K = o.greedy ? 1 : o.samples;
  const per = Math.max(1, o.batch ?? 16);
  let sum = 0, maj = 0, pass = 0, len = 0;
  const kept: NonNullable<EvalResult['samples']> = [];
  const failures: EvalFailure[] = [];
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    const samples = torch.noGrad(() => generate(model, chunk.map((r) => tokenizer.encodeChat(r.messages, { addGenerationPrompt: true })), {
      n: K, maxNewTokens: o.maxNewTokens, greedy: o.greedy, temperature: o.temperature ?? 1, topP: o.topP ?? 1, topK: o.topK ?? 0,
      stopTokenIds: o.stopTokenIds, tokenizer, padTokenId: o.padTokenId,
      ...(o.seed !== undefined ? { seeds: chunk.map((_, j) => sampleSeed(o.seed!, i + j)) } : {}),
    }));
    for (const [j, row] of chunk.entries()) {
      const mine = samples.slice(j * K, (j + 1) * K);
      const results = await Promise.all(mine.map((s) => verifier(row, s.text)));
      const scores = results.map((r) => r.score);
      if (o.keepSamples) mine.forEach((s, k) => kept.push({ prompt: i + j, text: s.text, score: scores[k]!, tokenIds: s.tokenIds, extracted: results[k]!.extracted ?? null }));
      if (failures.length < (o.failures ?? 0) && scores[0]! < 1)
        failures.push({
          file: row.file, row: row.row, ...(row.line !== undefined ? { line: row.line } : {}), prompt: tokenizer.applyChatTemplate(row.messages, { addGenerationPrompt: true }),
          response: mine[0]!.text, extracted: results[0]!.extracted ?? null, groundTruth: row.groundTruth, score: scores[0]!,
        });
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
  model.releaseDecodeWeights(); // the decoding copies served every chunk; free them now
  const n = Math.max(1, rows.length);
  return { prompts: rows.length, avgAtK: sum / n, majAtK: maj / n, passAtK: pass / n, meanLength: len / n, ...(o.keepSamples ? { samples: kept } : {}), ...(o.failures ? { failures } : {}) };
}
