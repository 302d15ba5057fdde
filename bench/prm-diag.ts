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
 *
 * It also counts the wrong responses of the embedded arithmetic tasks by their first wrong line
 * "a±b=c": a result off by exactly 10 (the dropped carry or borrow the carry task's demonstrations
 * teach) or any other slip, so one can see which errors a policy still makes.
 */
import { loadPretrained } from '../src/lm/index.js';
import * as torch from '../src/torch/index.js';
import { loadPromptFiles } from '../src/prime/data.js';
import { evaluateModel } from '../src/prime/evaluate.js';
import { defaultVerifier } from '../src/prime/verifier.js';
import { configFromObject, parseArgs } from '../src/prime/config.js';
import { scoreImplicitPrm, STEP_AGGREGATES } from '../src/prime/implicit_prm.js';
import { prmPairwiseAccuracy, rocAuc } from '../src/prime/prm_metrics.js';
import { logprobs, packSequences } from '../src/lm/index.js';
import { parseStepLine } from '../src/prime/demo/arithmetic.js';

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
  console.log(`pairwise by aggregate: ${STEP_AGGREGATES.map((a) => `${a} ${prmPairwiseAccuracy(sc.map((x) => x.aggregates[a]), o, K).toFixed(3)}`).join(', ')}; over mixed groups only: ${STEP_AGGREGATES.map((a) => `${a} ${prmPairwiseAccuracy(sc.map((x) => x.aggregates[a]), o, K, { mixedOnly: true }).toFixed(3)}`).join(', ')}; AUC (sum) ${rocAuc(sc.map((x) => x.aggregates.sum), o).toFixed(3)}`);
  const kinds: Record<string, number> = {};
  // step (line) rewards of wrong responses before, at and after their first wrong line, and of right ones
  const where = { right: [0, 0], before: [0, 0], at: [0, 0], after: [0, 0] };
  const add = (a: number[], x: number) => { a[0] += x; a[1]++; };
  ks.forEach((s, i) => {
    const steps = sc[i]!.stepRewards.map((r) => r / beta);
    if (s.score > 0.5) { steps.forEach((r) => add(where.right, r)); return; }
    let kind = 'no wrong a±b=c line', wrongAt = -1;
    const lines = s.text.split('\n');
    for (let l = 0; l < lines.length; l++) {
      const st = parseStepLine(lines[l]!);
      if (st && st.result !== st.right) { kind = Math.abs(st.result - st.right) === 10 ? 'off by 10 (dropped carry/borrow)' : 'other slip'; wrongAt = l; break; }
    }
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    if (wrongAt >= 0) steps.forEach((r, l) => add(l < wrongAt ? where.before : l === wrongAt ? where.at : where.after, r));
  });
  console.log(`wrong responses by their first wrong line: ${Object.entries(kinds).map(([k, v]) => `${k} ${v}`).join(', ')} (of ${ks.length})`);
  // right − wrong pairs of one problem: the gap in the sum, split into the lines both share and the lines one has more
  let pairsN = 0, gap = 0, gapShared = 0, gapExtra = 0, moreLines = 0, fewerLines = 0, won = 0;
  for (let g = 0; g < ks.length; g += K)
    for (let i = g; i < g + K; i++)
      for (let j = g; j < g + K; j++) {
        if (!(o[i]! > 0.5 && o[j]! <= 0.5)) continue;
        const a = sc[i]!.stepRewards, b = sc[j]!.stepRewards, n = Math.min(a.length, b.length);
        const sa = a.slice(0, n).reduce((x, y) => x + y, 0), sb = b.slice(0, n).reduce((x, y) => x + y, 0);
        const ta = sc[i]!.aggregates.sum, tb = sc[j]!.aggregates.sum;
        pairsN++; gap += (ta - tb) / beta; gapShared += (sa - sb) / beta; gapExtra += (ta - sa - (tb - sb)) / beta;
        if (a.length > b.length) moreLines++; if (a.length < b.length) fewerLines++; if (ta > tb) won++;
      }
  console.log(`right − wrong pairs (${pairsN}): right scores higher in ${(won / pairsN).toFixed(3)}; mean gap in Σ log-ratio ${(gap / pairsN).toFixed(3)} = ${(gapShared / pairsN).toFixed(3)} over the lines both have + ${(gapExtra / pairsN).toFixed(3)} over the extra lines; the right one has more lines in ${(moreLines / pairsN).toFixed(3)}, fewer in ${(fewerLines / pairsN).toFixed(3)}`);
  const show = Number(flags.show ?? 0);
  for (let g = 0, shown = 0; g < ks.length && shown < show; g += K) {
    const grp = ks.slice(g, g + K);
    if (!grp.some((x) => x.score > 0.5) || grp.every((x) => x.score > 0.5)) continue;
    shown++;
    grp.forEach((x, k) => {
      const lines = x.text.split('\n');
      console.log(`  [${x.score > 0.5 ? 'right' : 'wrong'} Σ ${(sc[g + k]!.aggregates.sum / beta).toFixed(2)}] ${sc[g + k]!.stepRewards.map((r, l) => `${JSON.stringify(lines[l] ?? '')}:${(r / beta).toFixed(2)}`).join(' ')}`);
    });
  }
  const avg = (a: number[]) => (a[1] ? (a[0]! / a[1]!).toFixed(3) : '—');
  console.log(`mean log-ratio per line: right responses ${avg(where.right)}; wrong ones before their first wrong line ${avg(where.before)}, on it ${avg(where.at)}, after it ${avg(where.after)}`);
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

  // Token level: the log-ratio of each response token against the reference's probability of that
  // token. A PRM whose distribution flattened under unlikelihood updates gives unlikely tokens (slips,
  // which wrong answers carry more of) a positive log-ratio, and so ranks wrong answers up.
  const refLp: number[][] = [];
  for (let i = 0; i < ks.length; i += 16) {
    const ps = ks.slice(i, i + 16).map((s) => pids[s.prompt]!), rs = ks.slice(i, i + 16).map((s) => s.tokenIds);
    const flat = torch.noGrad(() => torch.tidy(() => {
      const b = packSequences(ps, rs, pad);
      const P = b.responseStart, T = b.inputIds.size(1) - P;
      return { v: logprobs(ref.model, b.inputIds, { attentionMask: b.attentionMask, responseMask: b.responseMask, responseStart: P }).logprobs.narrow(1, P, T).toFlatArray(), T };
    }));
    rs.forEach((ids, j) => refLp.push(Array.from(flat.v.slice(j * flat.T, j * flat.T + ids.length))));
  }
  const bins = [0.5, 0.9, 0.99, 1.01]; // upper edges of the reference's token probability
  const acc = bins.map(() => ({ right: [0, 0], wrong: [0, 0] }));
  let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, n = 0;
  ks.forEach((_, i) => refLp[i]!.forEach((lp, t) => {
    const r = sc[i]!.tokenRewards[t]! / beta, pr = Math.exp(lp);
    const b = acc[bins.findIndex((e) => pr < e)]!;
    const side = o[i]! > 0.5 ? b.right : b.wrong;
    side[0] += r; side[1]++;
    sx += lp; sy += r; sxx += lp * lp; syy += r * r; sxy += lp * r; n++;
  }));
  const corr = (sxy - (sx * sy) / n) / Math.sqrt((sxx - (sx * sx) / n) * (syy - (sy * sy) / n));
  console.log(`token log-ratio vs the reference's log-prob of the token: Pearson r ${corr.toFixed(3)} over ${n} tokens`);
  let lo = 0;
  for (let k = 0; k < bins.length; k++) {
    const a = acc[k]!;
    const m = (x: number[]) => (x[1] ? (x[0]! / x[1]!).toFixed(3) : '—');
    console.log(`  p_ref in [${lo}, ${Math.min(1, bins[k]!)}): right ${m(a.right)} (${a.right[1]} tokens), wrong ${m(a.wrong)} (${a.wrong[1]} tokens)`);
    lo = Math.min(1, bins[k]!);
  }
} finally {
  for (const p of loaded) p.model.dispose();
}
