/**
 * Outcome rewards from the config (`reward.functions`): a weighted sum of built-in verifiers and
 * user modules,
 *
 *   reward:
 *     functions:
 *       - { name: math, weight: 1 }                 # a verifier registered in prime-ts/verify
 *       - { module: ./my_reward.js, weight: 0.5 }   # a JS module (path from the working directory)
 *
 * score = Σ_i weight_i · s_i, where s_i is term i's score for the response. Each term's unweighted
 * score is returned in `VerifierResult.components` under its name (the verifier's name, or the
 * module's file name without extension, or an explicit `name`), which the trainer logs as
 * `reward/<name>` (mean over the step's sampled responses). The extracted answer (for maj@K) is
 * the first term's that has one.
 *
 * A user module exports a function as `default` or as `reward`:
 *
 *   export default function (response, row) { return response.includes('\\boxed') ? 1 : 0; }
 *
 * `row` is the prompt row (dataSource, messages, ability, groundTruth, extraInfo, file, row); the
 * function returns a finite number or `{ score, extracted? }`, or a Promise of one. Errors name the
 * module file and the dataset row (file and 0-based row) being scored.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { rewardFunctionName, type PrimeConfig } from './config.js';
import type { PromptRow } from './data.js';
import { defaultVerifier, type Verifier, type VerifierResult } from './verifier.js';

export type UserRewardResult = number | { score: number; extracted?: string | null };
export type UserRewardFn = (response: string, row: PromptRow) => UserRewardResult | Promise<UserRewardResult>;

interface Term {
  name: string;
  weight: number;
  /** "reward.functions[1] (./my_reward.js)" */
  where: string;
  score: (row: PromptRow, response: string) => Promise<VerifierResult>;
}

/** Where a row comes from, for messages: "data/train.jsonl row 17". */
const rowWhere = (row: PromptRow) => `${row.file} row ${row.row}`;

async function loadUserModule(file: string, where: string): Promise<UserRewardFn> {
  const abs = path.resolve(file);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${where}: cannot load ${abs}: ${(e as Error).message.split('\n')[0]}`);
  }
  const fn = typeof mod.default === 'function' ? mod.default : mod.reward;
  if (typeof fn !== 'function') throw new Error(`${where}: ${abs} exports no reward function (expected \`export default function (response, row)\` or \`export function reward(response, row)\`)`);
  return fn as UserRewardFn;
}

/**
 * Builds the verifier for `reward.functions` (the default verifier when the list is empty):
 * loads every user module and checks every built-in name now, so mistakes surface before
 * training. Throws an Error naming the entry (reward.functions[i]) and the file.
 */
export async function createVerifier(cfg: PrimeConfig): Promise<Verifier> {
  const specs = cfg.reward.functions;
  if (specs.length === 0) return defaultVerifier(cfg);
  const verify = await import('../verify/index.js');
  const opts = { codeReward: cfg.verify.code_reward, timeoutMs: cfg.verify.code_timeout * 1000 };
  const terms: Term[] = [];
  for (const [i, spec] of specs.entries()) {
    const name = rewardFunctionName(spec);
    const weight = spec.weight ?? 1;
    if (spec.module !== undefined) {
      const where = `reward.functions[${i}] (${spec.module})`;
      const fn = await loadUserModule(spec.module, where);
      terms.push({
        name, weight, where,
        async score(row, response) {
          let r: UserRewardResult;
          try {
            r = await fn(response, row);
          } catch (e) {
            throw new Error(`${where}: failed on ${rowWhere(row)}: ${e instanceof Error ? e.message : String(e)}`);
          }
          const score = typeof r === 'number' ? r : r !== null && typeof r === 'object' ? r.score : undefined;
          if (typeof score !== 'number' || !Number.isFinite(score))
            throw new Error(`${where}: on ${rowWhere(row)} returned ${JSON.stringify(r) ?? String(r)}; expected a finite number or { score: number }`);
          return { score, extracted: typeof r === 'object' ? (r.extracted ?? null) : null };
        },
      });
    } else if (spec.name === 'default') {
      const base = defaultVerifier(cfg);
      terms.push({ name, weight, where: `reward.functions[${i}] (default)`, score: base });
    } else {
      const where = `reward.functions[${i}] (name: ${spec.name})`;
      let fn: ReturnType<typeof verify.resolveVerifier>['fn'];
      try {
        fn = verify.resolveVerifier({ ability: spec.name! }).fn;
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message.replace(/^Unknown verifier: /, 'no such verifier: ')}; or use 'default' (by the row's data_source/ability) or { module: FILE.js }`);
      }
      terms.push({
        name, weight, where,
        async score(row, response) {
          try {
            const r = await fn(response, row.groundTruth, { ability: row.ability, data_source: row.dataSource, ground_truth: row.groundTruth }, opts);
            return { score: r.score, extracted: r.extracted ?? null };
          } catch (e) {
            throw new Error(`${where}: failed on ${rowWhere(row)}: ${(e as Error).message}`);
          }
        },
      });
    }
  }
  return async (row, response) => {
    const results = await Promise.all(terms.map((t) => t.score(row, response)));
    const components: Record<string, number> = {};
    let score = 0;
    let extracted: string | null = null;
    terms.forEach((t, i) => {
      const r = results[i]!;
      components[t.name] = r.score;
      score += t.weight * r.score;
      if (extracted === null && r.extracted !== undefined && r.extracted !== null) extracted = r.extracted;
    });
    return { score, extracted, components };
  };
}

/** Per-term sums over a step's responses, for the `reward/<name>` metrics. */
export class RewardComponents {
  readonly sums = new Map<string, number>();
  count = 0;
  add(results: readonly VerifierResult[]): void {
    for (const r of results) {
      if (!r.components) continue;
      this.count++;
      for (const [k, v] of Object.entries(r.components)) this.sums.set(k, (this.sums.get(k) ?? 0) + v);
    }
  }
  /**
   * `reward/<name>` = mean unweighted score of each term over the responses added; `reduceSum`
   * (data-parallel) sums [count, …sums] over ranks first. {} when no term reported.
   */
  metrics(names: readonly string[], reduceSum?: (xs: number[]) => number[]): Record<string, number> {
    if (names.length === 0) return {};
    let xs = [this.count, ...names.map((n) => this.sums.get(n) ?? 0)];
    if (reduceSum) xs = reduceSum(xs);
    const [n, ...sums] = xs;
    return Object.fromEntries(names.map((k, i) => [`reward/${k}`, n! > 0 ? sums[i]! / n! : 0]));
  }
}
