/**
 * Best-of-N with the implicit PRM as the verifier (Yuan et al., "Free Process Rewards without
 * Process Labels", 2024, §4: Best-of-N on MATH; Lightman et al. 2023 for the min-over-steps score):
 * sample N responses per problem with the policy, score each with the implicit PRM (see
 * implicit_prm.ts), and grade the one it ranks highest. Reported beside the PRM-free baselines of
 * the same samples: maj@N (majority vote over extracted answers), avg@N (mean accuracy = what one
 * random sample gets) and pass@N (an oracle picker's ceiling).
 *
 * Ties: the PRM's pick among tied best scores is uniformly random, and its accuracy is counted in
 * expectation (the mean outcome of the tied responses). So a PRM that has learned nothing (π_φ = π_ref,
 * every score 0) scores exactly avg@N; every pick lies between its group's worst and best outcome,
 * so Best-of-N ≤ pass@N always, and it beats avg@N only when the PRM ranks better than chance.
 */
import path from 'node:path';
import * as torch from '../torch/index.js';
import { loadPretrained, type CausalLM, type Tokenizer, type Pretrained } from '../lm/index.js';
import { configFromObject } from './config.js';
import { loadPromptFiles, type PromptRow } from './data.js';
import { evaluateModel } from './evaluate.js';
import { defaultVerifier, type Verifier } from './verifier.js';
import { scoreImplicitPrm, STEP_AGGREGATES, type StepAggregate, type StepSplitter } from './implicit_prm.js';
import { prmPairwiseAccuracy, rocAuc } from './prm_metrics.js';

/**
 * Expected outcome of picking the highest-scored response of one group: the mean outcome of the
 * responses whose score equals the maximum (a uniformly random tie-break). Throws on empty or
 * mismatched input or a NaN score.
 */
export function pickBestOfN(scores: readonly number[], outcomes: readonly number[]): number {
  if (scores.length === 0 || scores.length !== outcomes.length) throw new RangeError(`pickBestOfN: ${scores.length} scores and ${outcomes.length} outcomes (need equal, ≥ 1)`);
  if (scores.some((s) => Number.isNaN(s))) throw new RangeError('pickBestOfN: a score is NaN');
  const best = Math.max(...scores);
  let sum = 0, n = 0;
  scores.forEach((s, i) => {
    if (s === best) {
      sum += outcomes[i]!;
      n++;
    }
  });
  return sum / n;
}

/**
 * PRM-weighted majority vote over one group (weighted self-consistency, as Math-Shepherd (Wang et
 * al. 2024) combines a PRM with voting): each response votes for its extracted answer with weight
 * σ(score) — the implicit PRM's scores are logits of P(correct) — and the answer with the largest
 * total wins (exact ties: the first answer to reach it). Responses without an answer (null) vote
 * alone. Returns the outcome of the winning answer's first response. Throws like pickBestOfN.
 */
export function pickWeightedMajority(scores: readonly number[], outcomes: readonly number[], answers: readonly (string | null)[]): number {
  if (scores.length === 0 || scores.length !== outcomes.length || answers.length !== scores.length) throw new RangeError(`pickWeightedMajority: ${scores.length} scores, ${outcomes.length} outcomes and ${answers.length} answers (need equal, ≥ 1)`);
  if (scores.some((x) => Number.isNaN(x))) throw new RangeError('pickWeightedMajority: a score is NaN');
  const totals = new Map<string, { w: number; outcome: number }>();
  let best: { w: number; outcome: number } | null = null;
  scores.forEach((x, i) => {
    const key = answers[i] ?? `<none:${i}>`;
    const t = totals.get(key) ?? { w: 0, outcome: outcomes[i]! };
    t.w += 1 / (1 + Math.exp(-x));
    totals.set(key, t);
    if (!best || t.w > best.w) best = t;
  });
  return best!.outcome;
}

/** Mean of pickBestOfN over groups; scores[g][k], outcomes[g][k]. */
export function bestOfNAccuracy(scores: readonly (readonly number[])[], outcomes: readonly (readonly number[])[]): number {
  if (scores.length !== outcomes.length) throw new RangeError(`bestOfNAccuracy: ${scores.length} score groups but ${outcomes.length} outcome groups`);
  if (scores.length === 0) return 0;
  return scores.reduce((a, s, g) => a + pickBestOfN(s, outcomes[g]!), 0) / scores.length;
}

export interface BestOfNOptions {
  /** N, samples per problem. */
  samples: number;
  maxNewTokens: number;
  /** Sampling temperature. Default 1. */
  temperature?: number;
  topP?: number;
  /** β of r_t = β·log(π_φ/π_ref); the ranking does not depend on it (every score scales with β), the reported scores do. Default 0.05. */
  beta?: number;
  /** The aggregate reported as `bestOfN`. Default 'min' (the ImplicitPRM paper's for Best-of-N). */
  aggregate?: StepAggregate;
  /** Step splitter; default: at tokens containing '\n'. */
  splitter?: StepSplitter;
  /** Problems per generate call. Default 16. */
  batch?: number;
  /** Sequences per PRM / reference forward. Default 8. */
  microBatch?: number;
  /** Reseeds libtorch's generator before sampling. */
  seed?: number;
  stopTokenIds: number[];
  padTokenId: number;
}

export interface BestOfNResult {
  prompts: number;
  samples: number;
  aggregate: StepAggregate;
  /** Accuracy of the PRM's pick under `aggregate`. */
  bestOfN: number;
  /** Accuracy of the PRM's pick under every aggregate. */
  bestOfNByAggregate: Record<StepAggregate, number>;
  majAtN: number;
  /** PRM-weighted majority vote (pickWeightedMajority) under `aggregate`. */
  weightedMajAtN: number;
  avgAtN: number;
  passAtN: number;
  /** The PRM's within-problem pairwise accuracy and AUC on these samples (outcome logit = the `sum` score). */
  prmPairwise: number;
  /** The same over problems whose N outcomes differ only (prmPairwiseAccuracy's mixedOnly; NaN if none). */
  prmPairwiseMixed: number;
  prmAuc: number;
  meanLength: number;
  /** Mean number of steps per response. */
  meanSteps: number;
}

/**
 * Best-of-N over `rows`: N samples each from `policy` (prompt-major), graded by `verifier`
 * (maj@N / avg@N / pass@N as evaluateModel computes them) and scored by the implicit PRM `prm`
 * against `ref`. Models are used without gradients and left as they were.
 */
export async function bestOfN(policy: CausalLM, prm: CausalLM, ref: CausalLM, tokenizer: Tokenizer, rows: PromptRow[], verifier: Verifier, o: BestOfNOptions): Promise<BestOfNResult> {
  const N = o.samples;
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`bestOfN: samples must be a positive integer, got ${N}`);
  const aggregate = o.aggregate ?? 'min';
  if (!STEP_AGGREGATES.includes(aggregate)) throw new RangeError(`bestOfN: unknown aggregate '${aggregate as string}' (${STEP_AGGREGATES.join(' | ')})`);
  if (o.seed !== undefined) torch.manualSeed(o.seed);
  const ev = await evaluateModel(policy, tokenizer, rows, verifier, {
    samples: N, greedy: false, maxNewTokens: o.maxNewTokens, temperature: o.temperature ?? 1, topP: o.topP ?? 1,
    batch: o.batch ?? 16, keepSamples: true, stopTokenIds: o.stopTokenIds, padTokenId: o.padTokenId,
  });
  const kept = ev.samples!; // prompt-major: kept[g·N + k]
  const promptIds = rows.map((r) => tokenizer.encodeChat(r.messages, { addGenerationPrompt: true }));
  const scored = scoreImplicitPrm(prm, ref, kept.map((s) => promptIds[s.prompt]!), kept.map((s) => s.tokenIds), {
    beta: o.beta ?? 0.05, padTokenId: o.padTokenId, microBatch: o.microBatch ?? 8, tokenizer, ...(o.splitter ? { splitter: o.splitter } : {}),
  });
  const outcomes = kept.map((s) => s.score);
  const grouped = <T>(xs: T[]): T[][] => rows.map((_, g) => xs.slice(g * N, (g + 1) * N));
  const byAgg = Object.fromEntries(STEP_AGGREGATES.map((a) => [a, bestOfNAccuracy(grouped(scored.map((s) => s.aggregates[a])), grouped(outcomes))])) as Record<StepAggregate, number>;
  const sums = scored.map((s) => s.aggregates.sum);
  const agg = grouped(scored.map((s) => s.aggregates[aggregate])), outs = grouped(outcomes), answers = grouped(kept.map((s) => s.extracted));
  const weightedMaj = rows.length ? agg.reduce((a, sc, g) => a + pickWeightedMajority(sc, outs[g]!, answers[g]!), 0) / rows.length : 0;
  return {
    prompts: rows.length, samples: N, aggregate, bestOfN: byAgg[aggregate], bestOfNByAggregate: byAgg,
    majAtN: ev.majAtK, weightedMajAtN: weightedMaj, avgAtN: ev.avgAtK, passAtN: ev.passAtK,
    prmPairwise: prmPairwiseAccuracy(sums, outcomes, N), prmPairwiseMixed: prmPairwiseAccuracy(sums, outcomes, N, { mixedOnly: true }), prmAuc: rocAuc(sums, outcomes),
    meanLength: ev.meanLength, meanSteps: scored.reduce((a, s) => a + s.stepEnds.length, 0) / Math.max(1, scored.length),
  };
}

export interface RunBestOfNOptions {
  /** Policy checkpoint dir (HF layout, with tokenizer) that samples. */
  model: string;
  /** Implicit PRM checkpoint dir (e.g. a PRIME run's checkpoints/step-N/prm, or `prime prm-train`'s output). */
  prm: string;
  /** The reference π_ref the PRM was trained against. Default: `model` (right when the policy is the SFT start the PRM was fitted from). */
  ref?: string;
  /** Prompt file(s) (Eurus-2-RL-Data schema, .jsonl/.parquet/.json). */
  data: string | string[];
  samples: number;
  aggregate?: StepAggregate;
  beta?: number;
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  /** Only the first `limit` problems. */
  limit?: number;
  batch?: number;
  microBatch?: number;
  dtype?: 'float32' | 'bfloat16';
  /** Default: defaultVerifier (prime-ts/verify by the rows' ability / data_source). */
  verifier?: Verifier;
}

/**
 * `prime eval --rerank prm`: loads the policy, PRM and reference (a directory named twice is loaded
 * once), runs bestOfN with the default verifier, and returns the result with what was evaluated.
 */
export async function runBestOfN(o: RunBestOfNOptions): Promise<BestOfNResult & { model: string; prm: string; ref: string; data: string[] }> {
  const files = Array.isArray(o.data) ? o.data : [o.data];
  const refDir = o.ref ?? o.model;
  const cfg = configFromObject({ model: { path: o.model }, data: { train_files: files } });
  const loaded = new Map<string, Pretrained>();
  const load = (dir: string): Pretrained => {
    const key = path.resolve(dir);
    let p = loaded.get(key);
    if (!p) loaded.set(key, (p = loadPretrained(dir, { dtype: o.dtype ?? 'float32' })));
    return p;
  };
  try {
    const pol = load(o.model);
    if (!pol.tokenizer) throw new Error(`${o.model}: no tokenizer.json`);
    const prm = load(o.prm), ref = load(refDir);
    let rows = await loadPromptFiles(files);
    if (o.limit !== undefined) rows = rows.slice(0, o.limit);
    const r = await bestOfN(pol.model, prm.model, ref.model, pol.tokenizer, rows, o.verifier ?? defaultVerifier(cfg), {
      samples: o.samples, maxNewTokens: o.maxNewTokens ?? 1024, temperature: o.temperature ?? 1, topP: o.topP ?? 1,
      beta: o.beta ?? 0.05, aggregate: o.aggregate ?? 'min', seed: o.seed ?? 0, batch: o.batch ?? 16, microBatch: o.microBatch ?? 8,
      stopTokenIds: pol.stopTokenIds, padTokenId: pol.tokenizer.padTokenId ?? pol.stopTokenIds[0] ?? 0,
    });
    return { model: o.model, prm: o.prm, ref: refDir, data: files, ...r };
  } finally {
    for (const p of loaded.values()) p.model.dispose();
  }
}

/**
 * The command line's view: `prime eval --rerank prm --model DIR --data FILE --prm DIR [--ref DIR]
 * --samples N [--aggregate min|sum|mean|token_mean] [--beta 0.05] [--max-new-tokens N] [--temperature T]
 * [--seed S] [--limit P]`; flags as parsed (strings or booleans). Prints the result as JSON; returns
 * the exit code (2 on a usage error, naming the flag).
 */
export async function bestOfNCommand(flags: Readonly<Record<string, string | boolean | undefined>>, log: (s: string) => void = console.log): Promise<number> {
  const str = (k: string): string | undefined => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  const num = (k: string): number | undefined => {
    const v = str(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${k}: expected a number, got '${v}'`);
    return n;
  };
  try {
    if (str('rerank') !== 'prm') throw new UsageError(`--rerank: the only reranker is 'prm', got '${String(flags.rerank)}'`);
    const model = str('model'), data = str('data'), prm = str('prm');
    if (!model || !data || !prm) throw new UsageError('--model DIR, --data FILE and --prm DIR are required with --rerank prm');
    const samples = num('samples') ?? 4;
    if (!Number.isInteger(samples) || samples < 1) throw new UsageError(`--samples: expected a positive integer, got ${samples}`);
    const aggregate = (str('aggregate') ?? 'min') as StepAggregate;
    if (!STEP_AGGREGATES.includes(aggregate)) throw new UsageError(`--aggregate: expected one of ${STEP_AGGREGATES.join(' | ')}, got '${aggregate}'`);
    const limit = num('limit');
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw new UsageError(`--limit: expected a positive integer, got ${limit}`);
    const beta = num('beta');
    if (beta !== undefined && !(beta > 0)) throw new UsageError(`--beta: must be > 0, got ${beta}`);
    const r = await runBestOfN({
      model, prm, data, samples, aggregate, ...(str('ref') ? { ref: str('ref')! } : {}), ...(beta !== undefined ? { beta } : {}),
      maxNewTokens: num('max-new-tokens') ?? 1024, temperature: num('temperature') ?? 1, seed: num('seed') ?? 0,
      ...(limit !== undefined ? { limit } : {}),
    });
    log(JSON.stringify(r, null, 2));
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`prime eval: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

class UsageError extends Error {}
