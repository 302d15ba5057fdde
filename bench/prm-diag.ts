/**
 * Where an implicit PRM ranks and where it does not (issue #10): samples K responses per held-out
 * problem from a policy, scores them with a PRM against the reference, and prints the PRM's
 * within-problem pairwise accuracy under each aggregate (implicit_prm.ts), how often the right
 * answer of a right/wrong pair is the longer one, and the mean log-ratio per token of right and
 * wrong responses. Run it on a 2×2 of policies (SFT start / after RL) and PRMs (warm start / after
 * RL) to tell a PRM that did not learn from one that meets a policy whose remaining errors it cannot see.
 *
 *   node dist/bench/prm-diag.js --policy DIR --prm DIR [--ref runs/demo/sft] [--data runs/demo/data/test.jsonl]
 *       [--prompts 150] [--samples 4] [--temperature 0.7] [--beta 0.05] [--seed 1]
 */
import { loadPretrained } from '../src/lm/index.js';
import * as torch from '../src/torch/index.js';
import { loadPromptFiles } from '../src/prime/data.js';
import { evaluateModel } from '../src/prime/evaluate.js';
import { defaultVerifier } from '../src/prime/verifier.js';
import { configFromObject, parseArgs } from '../src/prime/config.js';
import { scoreImplicitPrm, STEP_AGGREGATES } from '../src/prime/implicit_prm.js';
import { prmPairwiseAccuracy, rocAuc } from '../src/prime/prm_metrics.js';

const { flags } = parseArgs(['bench', ...process.argv.slice(2)]);
const str = (k: string, d?: string): string => {
  const v = flags[k];
  if (typeof v === 'string') return v;
  if (d === undefined) throw new Error(`--${k} DIR is required`);
  return d;
};
const polDir = str('policy'), prmDir = str('prm'), refDir = str('ref', 'runs/demo/sft'), data = str('data', 'runs/demo/data/test.jsonl');
const nPrompts = Number(str('prompts', '150')), K = Number(str('samples', '4')), beta = Number(str('beta', '0.05'));
const loaded = [loadPretrained(polDir), loadPretrained(prmDir, { tokenizer: false }), loadPretrained(refDir, { tokenizer: false })];
const [pol, prm, ref] = loaded as [typeof loaded[0], typeof loaded[0], typeof loaded[0]];
try {
  const tok = pol.tokenizer!;
  const pad = tok.padTokenId ?? pol.stopTokenIds[0] ?? 0;
  const rows = (await loadPromptFiles([data])).slice(0, nPrompts);
  torch.manualSeed(Number(str('seed', '1')));
  const ev = await evaluateModel(pol.model, tok, rows, defaultVerifier(configFromObject({ model: { path: polDir }, data: { train_files: [data] } })), {
    samples: K, greedy: false, temperature: Number(str('temperature', '0.7')), maxNewTokens: 96, batch: 25, keepSamples: true, stopTokenIds: pol.stopTokenIds, padTokenId: pad,
  });
  const ks = ev.samples!;
  const pids = rows.map((r) => tok.encodeChat(r.messages, { addGenerationPrompt: true }));
  const sc = scoreImplicitPrm(prm.model, ref.model, ks.map((s) => pids[s.prompt]!), ks.map((s) => s.tokenIds), { beta, padTokenId: pad, tokenizer: tok });
  const o = ks.map((s) => s.score);
  console.log(`policy ${polDir}, PRM ${prmDir}: ${rows.length} problems × ${K}, accuracy ${(100 * ev.avgAtK).toFixed(1)}%`);
  console.log(`pairwise by aggregate: ${STEP_AGGREGATES.map((a) => `${a} ${prmPairwiseAccuracy(sc.map((x) => x.aggregates[a]), o, K).toFixed(3)}`).join(', ')}; AUC (sum) ${rocAuc(sc.map((x) => x.aggregates.sum), o).toFixed(3)}`);
  const len = ks.map((s) => s.tokenIds.length);
  let longer = 0, shorter = 0, pairs = 0, dlen = 0;
  for (let g = 0; g < ks.length; g += K)
    for (let i = g; i < g + K; i++)
      for (let j = g; j < g + K; j++)
        if (o[i]! > o[j]!) {
          pairs++;
          if (len[i]! > len[j]!) longer++;
          if (len[i]! < len[j]!) shorter++;
          dlen += len[i]! - len[j]!;
        }
  console.log(`right/wrong pairs: ${pairs}; the right one longer in ${(longer / pairs).toFixed(3)}, shorter in ${(shorter / pairs).toFixed(3)}; mean length difference ${(dlen / pairs).toFixed(2)} tokens (mean length ${(len.reduce((a, b) => a + b, 0) / len.length).toFixed(1)})`);
  const perTok = sc.map((x) => x.aggregates.token_mean / beta);
  const meanOf = (f: (i: number) => boolean) => { const xs = perTok.filter((_, i) => f(i)); return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length); };
  console.log(`mean log-ratio per token: all ${meanOf(() => true).toFixed(3)}, right ${meanOf((i) => o[i]! > 0.5).toFixed(3)}, wrong ${meanOf((i) => o[i]! <= 0.5).toFixed(3)}`);
} finally {
  for (const p of loaded) p.model.dispose();
}
