import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { noGrad, tidy } from '../../src/torch/index.js';
import { generate, logprobs, packSequences, type CausalLM, type Sample } from '../../src/lm/index.js';
import { makeTokenizer, randomPrompts, tinyModel } from './fixtures.js';

const PROMPTS = randomPrompts([5, 2, 8], 256, 21);

/** Next-token logits (V) after `ids`, by a full forward pass without any cache. */
const nextLogits = (m: CausalLM, ids: number[]): number[] =>
  noGrad(() => tidy(() => m.logits(m.forward(torch.tensor([ids]))).select(1, ids.length - 1).select(0, 0).toFlatArray()));
const argmax = (a: number[]) => a.reduce((bi, v, i) => (v > a[bi]! ? i : bi), 0);

test('greedy decoding equals step-by-step argmax of full forward passes, batched with padding and alone', () => {
  const m = tinyModel({}, 'float64');
  const batched = generate(m, PROMPTS, { maxNewTokens: 6, greedy: true });
  PROMPTS.forEach((p, i) => {
    const seq = [...p];
    for (let t = 0; t < 6; t++) seq.push(argmax(nextLogits(m, seq)));
    assert.deepEqual(batched[i]!.tokenIds, seq.slice(p.length), `prompt ${i}: batched greedy = argmax loop`);
    assert.deepEqual(generate(m, [p], { maxNewTokens: 6, greedy: true })[0]!.tokenIds, seq.slice(p.length), `prompt ${i}: alone`);
    assert.equal(batched[i]!.finishReason, 'length');
  });
  m.dispose();
});

test('sampling log-probs equal logprobs() recomputed on the samples (temperature 1 and 0.7; float64 and float32)', () => {
  for (const [dtype, temperature, tol] of [['float64', 1, 1e-5], ['float64', 0.7, 1e-5], ['float32', 1, 1e-4]] as const) {
    const m = tinyModel({ modelType: dtype === 'float64' ? 'llama' : 'qwen2', numKvHeads: 1 }, dtype);
    const s = generate(m, PROMPTS, { n: 3, maxNewTokens: 7, temperature, seed: 3, stopTokenIds: [10, 20, 30, 40] });
    const b = packSequences(s.map((x) => PROMPTS[x.promptIndex]!), s.map((x) => x.tokenIds), 0);
    const lp = noGrad(() => tidy(() => logprobs(m, b.inputIds, { attentionMask: b.attentionMask, responseMask: b.responseMask, temperature }).logprobs.toArray())) as number[][];
    let maxDiff = 0;
    s.forEach((x, r) => x.logprobs.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - lp[r]![b.responseStart + j]!)))));
    console.log(`${dtype} T=${temperature}: sampled vs recomputed log-probs over ${s.reduce((a, x) => a + x.tokenIds.length, 0)} tokens: max |diff| = ${maxDiff.toExponential(2)} (tol ${tol})`);
    assert.ok(maxDiff <= tol, `max diff ${maxDiff}`);
    torch.dispose(b);
    m.dispose();
  }
});

test('same seed → same samples; another seed → other samples; prealloc and cat caches agree', () => {
  const m = tinyModel();
  const run = (seed: number, kvCache: 'prealloc' | 'cat' = 'prealloc') => generate(m, PROMPTS, { n: 4, maxNewTokens: 12, seed, kvCache, stopTokenIds: [7] });
  const a = run(42), b = run(42), c = run(43), d = run(42, 'cat');
  assert.deepEqual(a, b);
  assert.deepEqual(a.map((x) => x.tokenIds), d.map((x) => x.tokenIds));
  assert.notDeepEqual(a.map((x) => x.tokenIds), c.map((x) => x.tokenIds));
  assert.equal(a.length, PROMPTS.length * 4);
  a.forEach((x, r) => assert.deepEqual([x.promptIndex, x.sampleIndex], [Math.floor(r / 4), r % 4]));
  // the n samples of one prompt differ from each other (they share only the prefill)
  assert.ok(new Set(a.slice(0, 4).map((x) => x.tokenIds.join())).size > 1);
  m.dispose();
});

test('each sample finishes on its own: stop token ids, stop strings, maxNewTokens', () => {
  const m = tinyModel();
  const tok = makeTokenizer();
  const greedy = generate(m, PROMPTS, { maxNewTokens: 10, greedy: true, tokenizer: tok });
  // stop on the 4th greedy token of prompt 0: prompt 0 stops there, the others run on unchanged
  const stopId = greedy[0]!.tokenIds[3]!;
  const firstAt = (x: Sample) => x.tokenIds.indexOf(stopId);
  const rows: number[] = [];
  const s = generate(m, PROMPTS, { maxNewTokens: 10, greedy: true, tokenizer: tok, stopTokenIds: [stopId], onStep: (_, r) => rows.push(r) });
  // finished rows leave the batch: the decoding batch shrinks as samples stop
  const running = (step: number) => s.filter((x) => x.tokenIds.length > step + 1).length;
  assert.deepEqual(rows, rows.map((_, step) => running(step)));
  assert.ok(rows[rows.length - 1]! < PROMPTS.length, `batch shrank: ${rows}`);
  s.forEach((x, i) => {
    const g = greedy[i]!;
    const k = firstAt(g);
    if (k >= 0) {
      assert.deepEqual(x.tokenIds, g.tokenIds.slice(0, k + 1), `sample ${i} ends with the stop token`);
      assert.equal(x.finishReason, 'stop');
      assert.equal(x.stoppedBy, stopId);
      assert.equal(x.text, tok.decode(g.tokenIds.slice(0, k), { skipSpecialTokens: true }), 'text excludes the stop token');
    } else {
      assert.deepEqual(x.tokenIds, g.tokenIds);
      assert.equal(x.finishReason, 'length');
    }
  });
  assert.equal(s[0]!.finishReason, 'stop');
  // stop strings: cut the text before the string; tokens up to the one that completed it
  const full = greedy[1]!.text;
  const stopStr = [...full].slice(3, 5).join('');
  assert.ok(stopStr.length > 0, `greedy text ${JSON.stringify(full)} long enough`);
  const t = generate(m, [PROMPTS[1]!], { maxNewTokens: 10, greedy: true, tokenizer: tok, stopStrings: ['never-there', stopStr] })[0]!;
  assert.equal(t.finishReason, 'stop');
  assert.equal(t.stoppedBy, stopStr);
  assert.equal(t.text, full.slice(0, full.indexOf(stopStr)));
  assert.ok(tok.decode(t.tokenIds, { skipSpecialTokens: true }).includes(stopStr));
  assert.ok(!tok.decode(t.tokenIds.slice(0, -1), { skipSpecialTokens: true }).includes(stopStr), 'stopped at the first token that completes it');
  // maxNewTokens
  const one = generate(m, PROMPTS, { maxNewTokens: 1, seed: 1 });
  assert.ok(one.every((x) => x.tokenIds.length === 1 && x.logprobs.length === 1 && x.finishReason === 'length'));
  m.dispose();
});

test('top-k = 1 and a tiny top-p are greedy; top-k samples stay in the top k', () => {
  const m = tinyModel();
  const g = generate(m, PROMPTS, { maxNewTokens: 6, greedy: true }).map((x) => x.tokenIds);
  assert.deepEqual(generate(m, PROMPTS, { maxNewTokens: 6, topK: 1, seed: 5 }).map((x) => x.tokenIds), g);
  assert.deepEqual(generate(m, PROMPTS, { maxNewTokens: 6, topP: 1e-6, seed: 5 }).map((x) => x.tokenIds), g);
  const s = generate(m, [PROMPTS[0]!], { n: 6, maxNewTokens: 5, topK: 3, seed: 9 });
  for (const x of s) {
    const seq = [...PROMPTS[0]!];
    for (const t of x.tokenIds) {
      const z = nextLogits(m, seq);
      const rank = z.filter((v) => v > z[t]!).length;
      assert.ok(rank < 3, `token ${t} has rank ${rank}`);
      seq.push(t);
    }
  }
  m.dispose();
});

test('sampled frequencies follow softmax(logits / T), and the top-p nucleus renormalized', () => {
  const m = tinyModel({}, 'float32', 2, 0.15);
  const p = PROMPTS[1]!;
  const z = nextLogits(m, p);
  const N = 4000;
  for (const [temperature, topP] of [[0.7, 1], [1, 0.6]] as const) {
    const s = generate(m, [p], { n: N, maxNewTokens: 1, temperature, topP, seed: 17 });
    const w = z.map((v) => Math.exp(v / temperature));
    let probs = w.map((v) => v / w.reduce((a, b) => a + b, 0));
    if (topP < 1) {
      // keep the most likely tokens until their mass reaches topP (the one crossing it included)
      const order = probs.map((_, i) => i).sort((a, b) => probs[b]! - probs[a]!);
      const kept = new Set<number>();
      let mass = 0;
      for (const i of order) {
        if (mass >= topP) break;
        kept.add(i);
        mass += probs[i]!;
      }
      probs = probs.map((q, i) => (kept.has(i) ? q / mass : 0));
    }
    const freq = new Array(z.length).fill(0);
    for (const x of s) freq[x.tokenIds[0]!]++;
    const dev = Math.max(...freq.map((f, i) => Math.abs(f / N - probs[i]!)));
    console.log(`T=${temperature} top-p=${topP}: max |frequency − probability| over ${N} draws = ${dev.toFixed(4)} (tol 0.03)`);
    assert.ok(dev < 0.03, `deviation ${dev}`);
    // the recorded log-prob is under the full tempered distribution, not the renormalized nucleus
    const lw = Math.log(w.reduce((a, b) => a + b, 0));
    for (const x of s.slice(0, 20)) assert.ok(Math.abs(x.logprobs[0]! - (z[x.tokenIds[0]!]! / temperature - lw)) < 1e-4);
  }
  m.dispose();
});

test('generate leaves no live tensors behind, also when it throws', () => {
  const m = tinyModel();
  generate(m, PROMPTS, { maxNewTokens: 2, greedy: true }); // builds the model's RoPE table (model state)
  const start = torch.memory().tensors;
  generate(m, PROMPTS, { n: 3, maxNewTokens: 9, seed: 1, stopTokenIds: [3, 5, 7, 11] });
  generate(m, PROMPTS, { maxNewTokens: 5, greedy: true, kvCache: 'cat' });
  assert.equal(torch.memory().tensors, start);
  assert.throws(() => generate(m, [[1, 2, 999]], { maxNewTokens: 2 }), /token id 999 outside \[0, 288\)/);
  assert.throws(() => generate(m, [[1]], { maxNewTokens: 2, stopStrings: ['x'] }), /stopStrings need a tokenizer/);
  assert.throws(() => generate(m, [[1]], { maxNewTokens: 0 }), /maxNewTokens/);
  assert.equal(torch.memory().tensors, start);
  m.dispose();
});
