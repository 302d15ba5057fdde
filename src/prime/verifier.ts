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
