/**
 * The trainer's view of verification: a row and a response text in, an outcome score in [0, 1]
 * out. The default routes through prime-ts/verify's registry by the row's ability/data_source;
 * it is imported lazily, so a run with its own verifier never loads the symbolic math engine.
 */
import type { PrimeConfig } from './config.js';
import type { PromptRow } from './data.js';

export interface VerifierResult {
  score: number;
  /** The answer the grader extracted, when it has one (used for majority voting). */
  extracted?: string | null;
  /** reward.functions: each term's unweighted score by name (logged as reward/<name>; see reward_functions.ts). */
  components?: Record<string, number>;
}
export type Verifier = (row: PromptRow, response: string) => Promise<VerifierResult>;

export function defaultVerifier(cfg: PrimeConfig): Verifier {
  let mod: Promise<typeof import('../verify/index.js')> | null = null;
  return async (row, response) => {
    mod ??= import('../verify/index.js');
    const { verify } = await mod;
    // verify() rejects a NaN/±∞/out-of-range score, naming the verifier, file and row.
    const r = await verify({ ability: row.ability, data_source: row.dataSource, ground_truth: row.groundTruth, file: row.file, index: row.row }, response, {
      codeReward: cfg.verify.code_reward, timeoutMs: cfg.verify.code_timeout * 1000,
      math: { extraction: cfg.verify['math.extraction'] },
    });
    return { score: r.score, extracted: r.extracted ?? null };
  };
}

/**
 * Wraps any verifier so that a score that is not a finite number in [0, 1] throws
 * VerifierScoreError naming `name`, the row's data file and its row index.
 */
export function checkedVerifier(verifier: Verifier, name: string): Verifier {
  let mod: Promise<typeof import('../verify/registry.js')> | null = null;
  return async (row, response) => {
    const r = await verifier(row, response);
    mod ??= import('../verify/registry.js');
    (await mod).checkScore(r?.score, name, { file: row.file, index: row.row });
    return r;
  };
}

/**
 * Load-time check for the default verifier: every row must be handled by a registered verifier
 * (its data_source, else its ability — the registry's lookup), and a row routed to the built-in
 * math or code verifier must carry a ground truth it can grade (data.ts's groundTruthProblem).
 * Throws one error naming the file and row (and line) of the first offender, with the number of
 * such rows, instead of failing when the row is first drawn. Call it right after loading rows
 * when the run uses `defaultVerifier`.
 */
export async function checkRowVerifiers(rows: readonly PromptRow[]): Promise<void> {
  const { resolveVerifier, mathVerifier, codeVerifier } = await import('../verify/index.js');
  const { groundTruthProblem, rowWhere } = await import('./data.js');
  let first: string | null = null;
  let bad = 0;
  for (const row of rows) {
    let problem: string | null = null;
    try {
      const { fn } = resolveVerifier({ ability: row.ability, data_source: row.dataSource });
      const kind = fn === mathVerifier ? 'math' : fn === codeVerifier ? 'code' : null;
      const p = kind === null ? null : groundTruthProblem(kind, row.groundTruth);
      if (p !== null) problem = `field '${row.groundTruthField ?? 'reward_model.ground_truth'}' ${p}`;
    } catch (e) {
      problem = (e as Error).message;
    }
    if (problem === null) continue;
    bad++;
    first ??= `${rowWhere(row)}: ${problem}`;
  }
  const more = bad - 1;
  if (first !== null) throw new Error(more > 0 ? `${first} (${more} more row${more > 1 ? 's fail' : ' fails'} this check)` : first);
}
