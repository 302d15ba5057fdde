/**
 * Right answers from wrong working (issue #10): outcome rewards grade the boxed answer only, so RL
 * can teach a policy to box the right answer through wrong steps (two slips that cancel, a last
 * line whose result does not follow from its operands). On the embedded ± chains every step can be
 * checked (demo/arithmetic.ts `checkWorking`), so this prints, per policy, held-out answer accuracy,
 * process-correct accuracy (every step right) and the share of right answers with wrong working —
 * what a process reward exists to see and an outcome reward cannot.
 *
 *   node dist/bench/faithfulness.js [--data runs/demo/data/test.jsonl] [--prompts 300]
 *       [--samples 1 (greedy) | N (at --temperature 0.7)] [--seed 1] [--json FILE] LABEL=DIR …
 *
 * A DIR may hold a glob-free list joined by commas (`prime=runs/replication/prime-s1/…,runs/…`):
 * the label's figures are then the mean and sd over them (seeds).
 */
import fs from 'node:fs';
import { loadPretrained } from '../src/lm/index.js';
import * as torch from '../src/torch/index.js';
import { loadPromptFiles } from '../src/prime/data.js';
import { evaluateModel } from '../src/prime/evaluate.js';
import { defaultVerifier } from '../src/prime/verifier.js';
import { configFromObject, parseArgs } from '../src/prime/config.js';
import { checkWorking } from '../src/prime/demo/arithmetic.js';

const { flags, overrides: positional } = parseArgs(['bench', ...process.argv.slice(2)]);
const data = String(flags.data ?? 'runs/demo/data/test.jsonl');
const nPrompts = Number(flags.prompts ?? 300), samples = Number(flags.samples ?? 1), temperature = Number(flags.temperature ?? 0.7);
if (!positional.length) throw new Error('give one or more LABEL=DIR[,DIR…] policies');
const rows = (await loadPromptFiles([data])).slice(0, nPrompts);

interface One { answer: number; process: number; luckyShare: number }
async function measure(dir: string): Promise<One> {
  const p = loadPretrained(dir);
  try {
    const tok = p.tokenizer!;
    torch.manualSeed(Number(flags.seed ?? 1));
    const ev = await evaluateModel(p.model, tok, rows, defaultVerifier(configFromObject({ model: { path: dir }, data: { train_files: [data] } })), {
      samples, greedy: samples === 1, temperature, maxNewTokens: 96, batch: 50, keepSamples: true, stopTokenIds: p.stopTokenIds, padTokenId: tok.padTokenId ?? p.stopTokenIds[0] ?? 0,
    });
    let right = 0, proc = 0, lucky = 0, n = 0;
    for (const s of ev.samples!) {
      const c = checkWorking(rows[s.prompt]!.messages[0]!.content, s.text);
      if (!c) throw new Error(`${data}: row ${s.prompt} is not a ± chain this bench can check`);
      n++;
      if (s.score > 0.5) { right++; if (!c.processCorrect) lucky++; }
      if (c.processCorrect) proc++;
    }
    return { answer: right / n, process: proc / n, luckyShare: right ? lucky / right : 0 };
  } finally {
    p.model.dispose();
  }
}

const pct = (x: number) => (100 * x).toFixed(1);
const ms = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return xs.length > 1 ? `${pct(m)} ± ${pct(sd)}` : pct(m);
};
const out: Record<string, One[]> = {};
console.log(`${rows.length} problems of ${data}, ${samples === 1 ? 'greedy' : `${samples} samples at temperature ${temperature}`}`);
console.log('| policy | runs | answer right | every step right | right answers with a wrong step |');
console.log('|---|---|---|---|---|');
for (const arg of positional) {
  const eq = arg.indexOf('=');
  const label = eq > 0 ? arg.slice(0, eq) : arg, dirs = (eq > 0 ? arg.slice(eq + 1) : arg).split(',');
  const rs: One[] = [];
  for (const d of dirs) rs.push(await measure(d));
  out[label] = rs;
  console.log(`| ${label} | ${rs.length} | ${ms(rs.map((r) => r.answer))} | ${ms(rs.map((r) => r.process))} | ${ms(rs.map((r) => r.luckyShare))} |`);
}
if (typeof flags.json === 'string') fs.writeFileSync(flags.json, JSON.stringify({ data, prompts: rows.length, samples, temperature: samples === 1 ? null : temperature, policies: out }, null, 2));
