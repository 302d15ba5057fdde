/**
 * Scoring responses with an implicit PRM (Yuan et al., "Free Process Rewards without Process
 * Labels", 2024, §3; PRIME §3): token rewards, step rewards and one score per response.
 *
 *   r_t   = β · (log π_φ(y_t | x, y_<t) − log π_ref(y_t | x, y_<t))      token reward
 *   r_k   = Σ_{t ∈ step k} r_t                                           step reward
 *           (= q_k − q_{k−1} with q_k = Σ_{t ≤ end of step k} r_t, the paper's Eq. for process rewards)
 *   score = min_k r_k | Σ_k r_k | mean_k r_k | Σ_t r_t / n               aggregate (n = response tokens)
 *
 * `sum` is the implicit PRM's outcome logit s (its ORM reading); `token_mean` is s over the response's
 * length (length-neutral); `min` is the paper's choice for
 * Best-of-N (a response is as good as its worst step). Steps end, by default, at every token whose
 * decoded text contains a newline; the response's last token always ends the last step.
 *
 * Shapes: N responses, T response tokens (right-padded per micro-batch).
 */
import { noGrad, tidy, type Tensor } from '../torch/index.js';
import { logprobs, packSequences, type CausalLM, type Tokenizer } from '../lm/index.js';
import { implicitProcessReward } from './rewards.js';

export const STEP_AGGREGATES = ['min', 'sum', 'mean', 'token_mean'] as const;
export type StepAggregate = (typeof STEP_AGGREGATES)[number];

/**
 * Splits a response into steps: given its token ids, returns the exclusive end index of each step,
 * strictly increasing, the last equal to the response length (an empty response: `[0]`, one empty step).
 */
export type StepSplitter = (responseIds: readonly number[]) => number[];

/** Step ends after every token for which `endsStep(id)` holds, and after the last token. */
export function splitStepsAt(responseIds: readonly number[], endsStep: (id: number) => boolean): number[] {
  const ends: number[] = [];
  for (let t = 0; t < responseIds.length; t++) if (endsStep(responseIds[t]!)) ends.push(t + 1);
  if (ends[ends.length - 1] !== responseIds.length) ends.push(responseIds.length);
  return ends;
}

/**
 * The default splitter: a step ends at a token whose decoded text (special tokens kept, so they
 * never match) contains `marker` ('\n'). Each token id is decoded once and cached.
 */
export function newlineStepSplitter(tokenizer: Pick<Tokenizer, 'decode'>, marker = '\n'): StepSplitter {
  if (marker.length === 0) throw new RangeError('newlineStepSplitter: empty marker');
  const cache = new Map<number, boolean>();
  const endsStep = (id: number) => {
    let v = cache.get(id);
    if (v === undefined) cache.set(id, (v = tokenizer.decode([id], { skipSpecialTokens: false }).includes(marker)));
    return v;
  };
  return (ids) => splitStepsAt(ids, endsStep);
}

/** The whole response as one step (score = outcome logit for every aggregate). */
export const wholeResponseSplitter: StepSplitter = (ids) => [ids.length];

/** Σ of the token rewards within each step; stepEnds from a StepSplitter. */
export function stepRewards(tokenRewards: ArrayLike<number>, stepEnds: readonly number[]): number[] {
  const out: number[] = [];
  let t = 0;
  for (const [k, end] of stepEnds.entries()) {
    if (!(end >= t && end <= tokenRewards.length) || (k > 0 && end === t)) throw new RangeError(`stepRewards: step ends ${JSON.stringify(stepEnds)} are not increasing within [0, ${tokenRewards.length}]`);
    let s = 0;
    for (; t < end; t++) s += tokenRewards[t]!;
    out.push(s);
  }
  if (t !== tokenRewards.length) throw new RangeError(`stepRewards: the last step ends at ${t}, not at the response length ${tokenRewards.length}`);
  return out;
}

/**
 * min / sum / mean of a response's step rewards (no steps: 0); `token_mean` is their sum over the
 * response's `tokens` (its mean token reward: a length-neutral score, unlike `sum`, which an implicit
 * PRM whose log-ratio drifts below 0 on sampled text makes fall with length). Throws for
 * `token_mean` without a token count (an empty response scores 0).
 */
export function aggregateStepRewards(steps: readonly number[], aggregate: StepAggregate, tokens?: number): number {
  if (aggregate === 'token_mean') {
    if (tokens === undefined || !(Number.isInteger(tokens) && tokens >= 0)) throw new RangeError(`aggregateStepRewards: 'token_mean' needs the response's token count, got ${tokens}`);
    return tokens === 0 ? 0 : steps.reduce((a, b) => a + b, 0) / tokens;
  }
  if (steps.length === 0) return 0;
  switch (aggregate) {
    case 'min': return Math.min(...steps);
    case 'sum': return steps.reduce((a, b) => a + b, 0);
    case 'mean': return steps.reduce((a, b) => a + b, 0) / steps.length;
    default: throw new Error(`unknown step aggregate '${aggregate as string}' (${STEP_AGGREGATES.join(' | ')})`);
  }
}

export interface ImplicitPrmScore {
  /** r_t for each response token (length = the response's). */
  tokenRewards: number[];
  /** Exclusive end of each step (from the splitter). */
  stepEnds: number[];
  /** r_k, one per step. */
  stepRewards: number[];
  /** The response's score under each aggregate; `sum` is the outcome logit s = β Σ_t log(π_φ/π_ref). */
  aggregates: Record<StepAggregate, number>;
}

export interface ImplicitPrmScoreOptions {
  /** β of r_t = β·log(π_φ/π_ref) (PRIME reference: 0.05). */
  beta: number;
  /** Fills padding (never scored). */
  padTokenId: number;
  /** Sequences per forward. Default 8. */
  microBatch?: number;
  /** Default: newlineStepSplitter(tokenizer). */
  splitter?: StepSplitter;
  /** For the default splitter. */
  tokenizer?: Pick<Tokenizer, 'decode'> | null;
}

/**
 * Scores responses (token ids, without the prompt) to prompts (token ids) with the implicit PRM
 * π_φ against the reference π_ref: one forward of each model per micro-batch, without gradients,
 * every intermediate freed. Returns one ImplicitPrmScore per response, in order.
 * Throws when the lists differ in length, β is not positive, or the two models' vocabularies differ.
 */
export function scoreImplicitPrm(prm: CausalLM, ref: CausalLM, prompts: number[][], responses: number[][], o: ImplicitPrmScoreOptions): ImplicitPrmScore[] {
  if (prompts.length !== responses.length) throw new RangeError(`scoreImplicitPrm: ${prompts.length} prompts but ${responses.length} responses`);
  if (!(o.beta > 0 && Number.isFinite(o.beta))) throw new RangeError(`scoreImplicitPrm: beta must be a positive number, got ${o.beta}`);
  if (prm.config.vocabSize !== ref.config.vocabSize) throw new Error(`scoreImplicitPrm: the PRM's vocabulary (${prm.config.vocabSize}) differs from the reference's (${ref.config.vocabSize}); they must share a tokenizer`);
  const micro = Math.max(1, o.microBatch ?? 8);
  let splitter = o.splitter;
  if (!splitter) {
    if (!o.tokenizer) throw new Error('scoreImplicitPrm: give a splitter, or a tokenizer for the default newline splitter');
    splitter = newlineStepSplitter(o.tokenizer);
  }
  const out: ImplicitPrmScore[] = [];
  for (let i = 0; i < prompts.length; i += micro) {
    const ps = prompts.slice(i, i + micro), rs = responses.slice(i, i + micro);
    const flat = noGrad(() => tidy(() => {
      const b = packSequences(ps, rs, o.padTokenId);
      const P = b.responseStart, T = b.inputIds.size(1) - P;
      const window = (m: CausalLM): Tensor => logprobs(m, b.inputIds, { attentionMask: b.attentionMask, responseMask: b.responseMask, responseStart: P }).logprobs.narrow(1, P, T);
      const mask = b.responseMask.narrow(1, P, T); // (n, T)
      const r = implicitProcessReward(window(prm), window(ref), mask, o.beta); // (n, T)
      return { values: r.toFlatArray(), T };
    }));
    rs.forEach((ids, j) => {
      const tokenRewards = Array.from(flat.values.slice(j * flat.T, j * flat.T + ids.length));
      const stepEnds = splitter!(ids);
      const steps = stepRewards(tokenRewards, stepEnds);
      const aggregates = Object.fromEntries(STEP_AGGREGATES.map((a) => [a, aggregateStepRewards(steps, a, ids.length)])) as Record<StepAggregate, number>;
      out.push({ tokenRewards, stepEnds, stepRewards: steps, aggregates });
    });
  }
  return out;
}
