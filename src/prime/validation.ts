/**
 * Validation during training (`trainer.eval_every`, `data.val_files`, `eval.*`): every
 * eval_every steps, at the last step, and before the first (`trainer.val_before_train`), the
 * policy answers the validation prompts and the run logs `val/*` metrics (metrics.jsonl,
 * TensorBoard, the progress line, `prime plot`):
 *
 *   val/accuracy          greedy decoding, mean score            (eval.greedy: true)
 *   val/avg@K             K samples per prompt, mean score       (eval.samples = K > 1, or greedy off)
 *   val/maj@K             the majority answer's score            (K > 1)
 *   val/pass@K            1 if any sample is correct             (K > 1)
 *   val/response_length   mean response tokens (greedy, else sampled)
 *
 * Sampling uses rollout.temperature / top_p and data.max_response_length, as training does;
 * prompts over data.max_prompt_length are skipped (counted in val/prompts). The metrics come from
 * evaluate.ts (`evaluateModel`), run chunk by chunk so progress can be reported. With W ranks,
 * rank r answers prompts i ≡ r (mod W) and the sums are all-reduced.
 *
 * `trainer.keep_best: METRIC` (e.g. val/accuracy; higher is better) keeps the policy of the best
 * validation so far in OUTPUT_DIR/best/ (HF layout, written atomically) with best.json naming
 * the step and value; a resumed run continues from best.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { savePretrained, type CausalLM, type Tokenizer } from '../lm/index.js';
import type { PrimeConfig } from './config.js';
export { validationMetricNames } from './config.js';
import { loadPromptFiles, type PromptRow } from './data.js';
import { evaluateModel } from './evaluate.js';
import type { Metrics } from './metrics.js';
import type { OnProgress } from './progress.js';
import type { Verifier } from './verifier.js';

/** What validation needs from the trainer (PrimeTrainer has all of it). */
export interface ValidationHost {
  readonly cfg: PrimeConfig;
  readonly policy: CausalLM;
  readonly tokenizer: Tokenizer;
  readonly verifier: Verifier;
  readonly stopTokenIds: number[];
  readonly padId: number;
  promptIds(r: PromptRow): number[];
  readonly parallel: { rank: number; world: number; reduce(xs: number[], op: 'sum', what: string): number[] };
  readonly onProgress?: OnProgress;
}

/** Whether step `step` (1-based; 0 = before training) validates. */
export function validationDue(cfg: Pick<PrimeConfig, 'trainer' | 'data'>, step: number): boolean {
  const t = cfg.trainer;
  if (t.eval_every <= 0 || cfg.data.val_files.length === 0) return false;
  if (step === 0) return t.val_before_train;
  return step % t.eval_every === 0 || step === t.total_steps;
}

export interface BestRecord {
  metric: string;
  value: number;
  step: number;
}

export class TrainingValidation {
  readonly rows: PromptRow[];
  readonly skippedLong: number;
  best: BestRecord | null;

  private constructor(rows: PromptRow[], skippedLong: number, best: BestRecord | null) {
    this.rows = rows;
    this.skippedLong = skippedLong;
    this.best = best;
  }

  /** Loads data.val_files (null when validation is off: trainer.eval_every = 0). */
  static async create(host: ValidationHost): Promise<TrainingValidation | null> {
    const cfg = host.cfg;
    if (cfg.trainer.eval_every <= 0 || cfg.data.val_files.length === 0) return null;
    const all = await loadPromptFiles(cfg.data.val_files);
    const rows = all.filter((r) => host.promptIds(r).length <= cfg.data.max_prompt_length);
    if (rows.length === 0) throw new Error(`data.val_files (${cfg.data.val_files.join(', ')}): no prompt within data.max_prompt_length=${cfg.data.max_prompt_length} (of ${all.length})`);
    return new TrainingValidation(rows, all.length - rows.length, readBest(cfg));
  }

  /** Validates when `step` is due (see validationDue); {} otherwise. */
  async maybeRun(host: ValidationHost, step: number): Promise<Metrics> {
    return validationDue(host.cfg, step) ? this.run(host, step) : {};
  }

  /** Runs every configured evaluation of the policy on the validation prompts. */
  async run(host: ValidationHost, step: number): Promise<Metrics> {
    const cfg = host.cfg;
    const t0 = performance.now();
    const { rank, world } = host.parallel;
    const mine = this.rows.filter((_, i) => i % world === rank);
    const m: Metrics = {};
    const common = {
      maxNewTokens: cfg.data.max_response_length, temperature: cfg.rollout.temperature, topP: cfg.rollout.top_p,
      stopTokenIds: host.stopTokenIds, padTokenId: host.padId,
    };
    const K = cfg.eval.samples;
    const passes: { greedy: boolean; samples: number }[] = [];
    if (cfg.eval.greedy) passes.push({ greedy: true, samples: 1 });
    if (K > 1 || !cfg.eval.greedy) passes.push({ greedy: false, samples: K });
    const total = mine.length * passes.length;
    let done = 0, tokens = 0;
    host.onProgress?.({ phase: 'validate', step, done, total, tokens });
    const chunk = Math.max(1, Math.floor(cfg.rollout.micro_batch / (passes.length > 1 ? K : passes[0]!.samples)) || 1);
    for (const p of passes) {
      // sums over this rank's prompts: [prompts, avg, maj, pass, length]
      const sums = [0, 0, 0, 0, 0];
      for (let i = 0; i < mine.length; i += chunk) {
        const rows = mine.slice(i, i + chunk);
        const r = await evaluateModel(host.policy, host.tokenizer, rows, host.verifier, { ...common, greedy: p.greedy, samples: p.samples, batch: rows.length });
        sums[0] += r.prompts;
        sums[1] += r.avgAtK * r.prompts;
        sums[2] += r.majAtK * r.prompts;
        sums[3] += r.passAtK * r.prompts;
        sums[4] += r.meanLength * r.prompts;
        done += rows.length;
        tokens += r.meanLength * r.prompts * (p.greedy ? 1 : p.samples);
        host.onProgress?.({ phase: 'validate', step, done, total, tokens });
      }
      const [n, avg, maj, pass, len] = host.parallel.reduce(sums, 'sum', 'reducing validation metrics') as [number, number, number, number, number];
      const d = Math.max(1, n);
      if (p.greedy) {
        m['val/accuracy'] = avg / d;
        m['val/response_length'] = len / d;
      } else {
        m[`val/avg@${p.samples}`] = avg / d;
        if (p.samples > 1) {
          m[`val/maj@${p.samples}`] = maj / d;
          m[`val/pass@${p.samples}`] = pass / d;
        }
        if (!cfg.eval.greedy) m['val/response_length'] = len / d;
      }
      m['val/prompts'] = n;
    }
    m['time/validation'] = (performance.now() - t0) / 1000;
    if (rank === 0 && cfg.trainer.keep_best) this.#keepBest(host, step, m);
    return m;
  }

  /** Saves the policy to OUTPUT_DIR/best when the kept metric improved (rank 0). */
  #keepBest(host: ValidationHost, step: number, m: Metrics): void {
    const cfg = host.cfg;
    const metric = cfg.trainer.keep_best;
    const v = m[metric];
    if (v === undefined) throw new Error(`trainer.keep_best: validation produced no '${metric}' (it produces ${Object.keys(m).filter((k) => k.startsWith('val/')).join(', ')})`);
    if (this.best && !(v > this.best.value)) {
      m['val/best'] = this.best.value;
      return;
    }
    const dir = path.join(cfg.trainer.output_dir, 'best');
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    savePretrained(tmp, host.policy, { tokenizer: host.tokenizer });
    this.best = { metric, value: v, step };
    fs.writeFileSync(path.join(tmp, 'best.json'), JSON.stringify(this.best) + '\n');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    m['val/best'] = v;
  }
}

/** The best record of an earlier run in the same output_dir (resume), if it tracked the same metric. */
function readBest(cfg: PrimeConfig): BestRecord | null {
  if (!cfg.trainer.keep_best || !cfg.trainer.resume) return null;
  const f = path.join(cfg.trainer.output_dir, 'best', 'best.json');
  if (!fs.existsSync(f)) return null;
  const b = JSON.parse(fs.readFileSync(f, 'utf8')) as BestRecord;
  return b.metric === cfg.trainer.keep_best ? b : null;
}
