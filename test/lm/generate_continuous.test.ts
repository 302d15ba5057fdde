// Continuous batching (generate's decodeContinuous: per-row cache lengths, one native decodeStep
// per step, finished rows replaced by waiting samples) against independent computations: full
// forward passes without a cache, one-prompt-at-a-time calls, and the op-by-op left-padded loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { noGrad, tidy } from '../../src/torch/index.js';
import { generate, KVCache, logprobs, packSequences, type CausalLM, type Sample } from '../../src/lm/index.js';
import { randomPrompts, tinyModel } from './fixtures.js';

// lengths 5, 2, 8, 3, 11, 1: rows of very different ages share the batch
const PROMPTS = randomPrompts([5, 2, 8, 3, 11, 1], 256, 33);

/** Next-token logits (V) after `ids` by a full forward pass without a cache (float64 model). */
const nextLogits = (m: CausalLM, ids: number[]): number[] =>
  noGrad(() => tidy(() => m.logits(m.forward(torch.tensor([ids]))).select(1, ids.length - 1).select(0, 0).toFlatArray()));
const argmax = (a: number[]) => a.reduce((bi, v, i) => (v > a[bi]! ? i : bi), 0);
const logSoftmaxAt = (z: number[], i: number) => {
  const mx = Math.max(...z);
  return z[i]! - mx - Math.log(z.reduce((a, v) => a + Math.exp(v - mx), 0));
};

test('greedy with stop ids, more samples than batch rows: each sample = its own argmax loop over full forward passes', () => {
  const m = tinyModel({}, 'float64');
  const maxNew = 9;
  // stop ids chosen from the samples' own greedy paths so rows end at different steps
  const free = generate(m, PROMPTS, { maxNewTokens: maxNew, greedy: true });
  const stopIds = [free[0]!.tokenIds[3]!, free[2]!.tokenIds[1]!, free[4]!.tokenIds[6]!];
  const ref = PROMPTS.map((p) => {
    const seq = [...p], lps: number[] = [];
    for (let t = 0; t < maxNew; t++) {
      const z = nextLogits(m, seq);
      const id = argmax(z);
      seq.push(id);
      lps.push(logSoftmaxAt(z, id));
      if (stopIds.includes(id)) break;
    }
    return { ids: seq.slice(p.length), lps };
  });
  const ends = new Set(ref.map((r) => r.ids.length));
  assert.ok(ends.size >= 3, `samples end at different steps (${[...ends]})`);
  for (const maxBatchRows of [1, 2, 4, 6, 100]) {
    let most = 0;
    const out = generate(m, PROMPTS, { maxNewTokens: maxNew, greedy: true, stopTokenIds: stopIds, maxBatchRows, onStep: (_, rows) => (most = Math.max(most, rows)) });
    let maxDiff = 0;
    out.forEach((s, i) => {
      assert.deepEqual(s.tokenIds, ref[i]!.ids, `maxBatchRows ${maxBatchRows}, prompt ${i}`);
      assert.equal(s.finishReason, stopIds.includes(s.tokenIds.at(-1)!) ? 'stop' : 'length');
      s.logprobs.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - ref[i]!.lps[j]!))));
    });
    console.log(`maxBatchRows ${maxBatchRows}: greedy tokens = argmax loop; at most ${most} rows per step; max |log-prob − full-forward log-softmax| = ${maxDiff.toExponential(2)} (tol 1e-6)`);
    assert.ok(most <= Math.min(maxBatchRows, PROMPTS.length), `rows per step ${most} ≤ ${maxBatchRows}`);
    assert.ok(maxDiff <= 1e-6, `log-prob diff ${maxDiff}`); // sampleNext returns float32 log-probs
  }
  m.dispose();
});

test('per-prompt seeds: batched, with any number of slots = each prompt alone; sampled log-probs = logprobs() recomputed', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const m = tinyModel({ numKvHeads: 1 }, dtype);
    const seeds = PROMPTS.map((_, i) => 100 + 7 * i);
    const opts = { n: 3, maxNewTokens: 10, temperature: 0.8, stopTokenIds: Array.from({ length: 41 }, (_, i) => 7 * i) };
    const alone = PROMPTS.flatMap((p, i) => generate(m, [p], { ...opts, seeds: [seeds[i]!] }).map((s) => ({ ...s, promptIndex: i })));
    for (const maxBatchRows of [1, 2, 5, 18]) {
      const batched = generate(m, PROMPTS, { ...opts, seeds, maxBatchRows });
      assert.deepEqual(batched.map((s) => [s.promptIndex, s.sampleIndex]), alone.map((s) => [s.promptIndex, s.sampleIndex]));
      assert.deepEqual(batched.map((s) => s.tokenIds), alone.map((s) => s.tokenIds), `${dtype} maxBatchRows ${maxBatchRows}: same tokens`);
      let lpDiff = 0;
      batched.forEach((s, r) => s.logprobs.forEach((v, j) => (lpDiff = Math.max(lpDiff, Math.abs(v - alone[r]!.logprobs[j]!)))));
      console.log(`${dtype} maxBatchRows ${maxBatchRows}: same tokens as one prompt at a time; max |Δ log-prob| = ${lpDiff.toExponential(2)}`);
      assert.ok(lpDiff <= (dtype === 'float64' ? 1e-6 : 1e-5));
    }
    // the samples' log-probs are those a learner recomputes (independent full forward, no cache)
    const s = generate(m, PROMPTS, { ...opts, seeds, maxBatchRows: 4 });
    assert.ok(new Set(s.map((x) => x.tokenIds.length)).size > 2, 'samples of different lengths');
    const b = packSequences(s.map((x) => PROMPTS[x.promptIndex]!), s.map((x) => x.tokenIds), 0);
    const lp = noGrad(() => tidy(() => logprobs(m, b.inputIds, { attentionMask: b.attentionMask, responseMask: b.responseMask, temperature: 0.8 }).logprobs.toArray())) as number[][];
    let maxDiff = 0;
    s.forEach((x, r) => x.logprobs.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - lp[r]![b.responseStart + j]!)))));
    const tol = dtype === 'float64' ? 1e-5 : 1e-4;
    console.log(`${dtype}: continuous-batching sampled vs recomputed log-probs over ${s.reduce((a, x) => a + x.tokenIds.length, 0)} tokens: max |diff| = ${maxDiff.toExponential(2)} (tol ${tol})`);
    assert.ok(maxDiff <= tol);
    torch.dispose(b);
    // another set of seeds draws other samples (the check can fail)
    assert.notDeepEqual(generate(m, PROMPTS, { ...opts, seeds: seeds.map((x) => x + 1) }).map((x) => x.tokenIds), alone.map((x) => x.tokenIds));
    m.dispose();
  }
});

test('one-call decode step with its in-place per-row cache = the op-by-op left-padded loop (same seed → same tokens)', () => {
  for (const [dtype, tol] of [['float64', 1e-6], ['float32', 1e-5]] as const) {
    const m = tinyModel({}, dtype);
    const opts = { n: 4, maxNewTokens: 14, temperature: 1, seed: 5, stopTokenIds: Array.from({ length: 41 }, (_, i) => 7 * i) };
    const fast = generate(m, PROMPTS, opts);
    m.fused = false; // the left-padded loop, layers op by op, cache rows index-selected
    const slow = generate(m, PROMPTS, opts);
    m.fused = true;
    const cat = generate(m, PROMPTS, { ...opts, kvCache: 'cat' }); // also the old loop, concatenated cache
    const diff = (a: Sample[], b: Sample[]) => Math.max(...a.flatMap((s, r) => s.logprobs.map((v, j) => Math.abs(v - b[r]!.logprobs[j]!))));
    assert.deepEqual(fast.map((s) => s.tokenIds), slow.map((s) => s.tokenIds), `${dtype}: same tokens`);
    assert.deepEqual(fast.map((s) => s.finishReason), slow.map((s) => s.finishReason));
    assert.deepEqual(fast.map((s) => s.tokenIds), cat.map((s) => s.tokenIds));
    const d = diff(fast, slow);
    console.log(`${dtype}: continuous one-call decode vs op-by-op left-padded loop over ${fast.reduce((a, s) => a + s.tokenIds.length, 0)} tokens: same tokens, max |Δ log-prob| = ${d.toExponential(2)} (tol ${tol})`);
    assert.ok(d <= tol);
    assert.ok(new Set(fast.map((s) => s.tokenIds.length)).size > 2, 'rows finished at different steps');
    m.dispose();
  }
});

test('sampleNext with per-row generator states: row r draws what a generator seeded alike draws alone', () => {
  noGrad(() => tidy(() => {
    const logits = torch.randn([5, 50]);
    const seeds = [11, 12, 13, 14, 15];
    const states = seeds.map((x) => torch.rngStateForSeed(x));
    const draw = () => Array.from(torch.sampleNext(logits, { rngStates: states })[0]!.data() as BigInt64Array, Number);
    const got = [draw(), draw()];
    // reference: the global generator seeded alike, row r alone, two draws in a row
    const want = [0, 1].map(() => new Array<number>(5));
    seeds.forEach((x, r) => {
      torch.manualSeed(x);
      const row = logits.narrow(0, r, 1);
      for (const k of [0, 1]) want[k]![r] = Number((torch.sampleNext(row)[0]!.data() as BigInt64Array)[0]);
    });
    assert.deepEqual(got, want);
    assert.notDeepEqual(got[0], got[1], 'the states advanced (the second draw differs somewhere)');
    assert.throws(() => torch.sampleNext(logits, { rngStates: states.slice(1) }), /4 generator states for 5 rows/);
  }));
});

test('continuous batching: option errors, and no live tensors left behind', () => {
  const m = tinyModel();
  generate(m, PROMPTS, { maxNewTokens: 2, greedy: true }); // builds the model's RoPE table (model state)
  const start = torch.memory().tensors;
  generate(m, PROMPTS, { n: 3, maxNewTokens: 9, seeds: PROMPTS.map((_, i) => i), maxBatchRows: 4, stopTokenIds: [3, 5, 7, 11] });
  generate(m, PROMPTS, { n: 2, maxNewTokens: 9, seed: 4, maxBatchRows: 3, stopTokenIds: [3, 5, 7, 11] });
  assert.equal(torch.memory().tensors, start);
  assert.throws(() => generate(m, PROMPTS, { maxNewTokens: 2, maxBatchRows: 0 }), /maxBatchRows must be a positive integer/);
  assert.throws(() => generate(m, PROMPTS, { maxNewTokens: 2, seeds: [1] }), /1 seeds for 6 prompts/);
  assert.throws(() => generate(m, PROMPTS, { maxNewTokens: 2, seed: 1, seeds: PROMPTS.map(() => 1) }), /seed or seeds, not both/);
  assert.throws(() => generate(m, [[1], []], { maxNewTokens: 2 }), /prompt 1 is empty/);
  assert.throws(() => generate(m, [[1]], { maxNewTokens: 2, seeds: [-1] }), /seeds\[0\] must be an integer in \[0, 2\^32\)/);
  assert.equal(torch.memory().tensors, start);
  m.dispose();
});

/** Runs fn with `generate`'s decode weights on model m made with options o (transposed or packed copies forced on or off). */
function withDecodeOptions<R>(m: CausalLM, o: Parameters<CausalLM['decodeWeights']>[0], fn: () => R): R {
  const orig = m.cachedDecodeWeights.bind(m);
  m.cachedDecodeWeights = () => orig(o);
  try {
    return fn();
  } finally {
    m.cachedDecodeWeights = orig;
  }
}

test('decodeWeights: transposed (in, out) copies give the same draws as the weights as they are (float64)', () => {
  const m = tinyModel({}, 'float64');
  const own = m.decodeWeights(), asIs = m.decodeWeights({ maxTransposeBytes: 0 });
  // OpenBLAS (Debian's libtorch): transposed copies; MKL (the PyPI wheel's): the weights as they are
  assert.equal(own.transposed, !torch.version().mkl, `a tiny CPU model on ${torch.version().mkl ? 'MKL' : 'OpenBLAS'}`);
  assert.equal(asIs.transposed, false);
  own.dispose();
  asIs.dispose();
  const forced = m.decodeWeights({ transpose: true });
  assert.equal(forced.transposed, true, 'transpose: true makes the copies on any CPU build');
  forced.dispose();
  const run = (transpose: boolean): Sample[] =>
    withDecodeOptions(m, { transpose }, () => generate(m, PROMPTS, { n: 3, maxNewTokens: 12, seed: 5, maxBatchRows: 4, stopTokenIds: [3, 5, 7, 11] }));
  const a = run(true), b = run(false);
  let maxDiff = 0;
  a.forEach((s, i) => {
    assert.deepEqual(s.tokenIds, b[i]!.tokenIds, `sample ${i}: same tokens`);
    s.logprobs.forEach((lp, j) => (maxDiff = Math.max(maxDiff, Math.abs(lp - b[i]!.logprobs[j]!))));
  });
  console.log(`transposed vs as-is decode weights: ${a.reduce((x, s) => x + s.tokenIds.length, 0)} tokens equal, max |Δ log-prob| = ${maxDiff.toExponential(2)} (tol 1e-12)`);
  assert.ok(maxDiff <= 1e-12, `max |Δ log-prob| ${maxDiff}`);
  // half precision keeps the weights as they are (the copies were measured in float32 only)
  const half = tinyModel({}, 'bfloat16');
  const hw = half.decodeWeights();
  assert.equal(hw.transposed, false, 'bfloat16: no copies');
  hw.dispose();
  half.dispose();
  const other = tinyModel({}, 'float64');
  const w = other.decodeWeights();
  const cache = new KVCache(m.config, 1, 4, m.dtype, 'prealloc', 'cpu');
  assert.throws(() => m.decodeStep(torch.tensor(BigInt64Array.from([1n])), torch.tensor(BigInt64Array.from([0n])), 0, cache, { temperature: 1, topP: 1, topK: 0, greedy: true, weights: w }),
    /decode weights belong to another model/);
  cache.dispose();
  w.dispose();
  other.dispose();
  m.dispose();
});

test('sampleNext over a large vocabulary (the two-level draw, and the flat one where V has no divisor near √V) = the inverse CDF computed in float64 by hand', () => {
  // u = the row generator's first draw (RowUniforms: at::rand on a generator in that state);
  // the token = the first index whose cumulative weight exceeds u·Σw, accumulated here one by one
  for (const [V, topK] of [[16384, 0], [151936, 0], [16384, 50], [8209, 0]] as const) {
    const B = 6;
    torch.manualSeed(V + topK);
    const logits = torch.randn([B, V]).mul(3);
    const z = logits.toFlatArray();
    const seeds = Array.from({ length: B }, (_, r) => 1000 + r);
    const states = seeds.map((x) => torch.rngStateForSeed(x));
    const [tok, lp] = torch.sampleNext(logits, { temperature: 1, topK, rngStates: states });
    const got = Array.from(tok.data() as BigInt64Array, Number), gotLp = lp.toFlatArray();
    let maxLp = 0;
    for (let r = 0; r < B; r++) {
      torch.manualSeed(seeds[r]!);
      const u = tidy(() => torch.rand([1], { dtype: 'float64' }).item());
      const row = z.slice(r * V, (r + 1) * V);
      const mx = row.reduce((a, x) => Math.max(a, x), -Infinity);
      const e = row.map((x) => Math.exp(x - mx));
      const kth = topK ? [...row].sort((a, b) => b - a)[topK - 1]! : -Infinity;
      const w = e.map((x, i) => (row[i]! >= kth ? x : 0));
      const total = w.reduce((a, x) => a + x, 0);
      let acc = 0, want = V - 1;
      for (let i = 0; i < V; i++) {
        acc += w[i]!;
        if (acc > u * total) {
          want = i;
          break;
        }
      }
      assert.equal(got[r], want, `V ${V} top-k ${topK} row ${r}: token`);
      const logZ = mx + Math.log(e.reduce((a, x) => a + x, 0));
      maxLp = Math.max(maxLp, Math.abs(gotLp[r]! - (row[want]! - logZ)));
    }
    console.log(`V ${V}, top-k ${topK}: ${B} rows drew the hand-computed inverse-CDF token; max |Δ log-prob| = ${maxLp.toExponential(2)} (tol 1e-5)`);
    assert.ok(maxLp <= 1e-5, `log-prob off by ${maxLp}`);
    torch.dispose([logits, tok, lp, ...states]);
  }
});

test('cachedDecodeWeights: reused while the weights are unchanged, remade after an in-place update (generate follows it)', () => {
  const m = tinyModel({}, 'float64');
  let made = 0;
  const orig = m.decodeWeights.bind(m);
  m.decodeWeights = (o) => (made++, orig(o));
  const opts = { n: 2, maxNewTokens: 8, greedy: true };
  const a = generate(m, PROMPTS, opts), b = generate(m, PROMPTS, opts);
  assert.equal(made, 1, 'two generate calls on unchanged weights: one set of decode weights');
  assert.deepEqual(b.map((s) => s.tokenIds), a.map((s) => s.tokenIds));
  const first = m.cachedDecodeWeights();
  assert.equal(m.cachedDecodeWeights(), first, 'the same object while nothing changed');
  // an in-place update (as an optimizer step makes): the next call makes new copies from the new weights
  noGrad(() => m.model.layers.items[0]!.mlp.down_proj.weight.mul_(3));
  const c = generate(m, PROMPTS, opts);
  assert.equal(made, 2, 'remade after the in-place update');
  m.releaseDecodeWeights();
  const fresh = withDecodeOptions(m, { transpose: false }, () => generate(m, PROMPTS, opts)); // straight from the live weights
  assert.deepEqual(c.map((s) => s.tokenIds), fresh.map((s) => s.tokenIds), 'generate after the update = from the live weights');
  assert.notDeepEqual(c.map((s) => s.tokenIds), a.map((s) => s.tokenIds), 'the update changed the greedy tokens');
  // other options or another thread count: other copies; release frees them
  const t0 = torch.getNumThreads();
  const other = m.cachedDecodeWeights({ transpose: false });
  assert.notEqual(other, m.cachedDecodeWeights());
  torch.setNumThreads(t0 === 1 ? 2 : 1);
  const threaded = m.cachedDecodeWeights();
  torch.setNumThreads(t0);
  assert.notEqual(threaded, m.cachedDecodeWeights(), 'a thread-count change remakes them');
  const live = torch.memory().tensors;
  m.releaseDecodeWeights();
  assert.ok(torch.memory().tensors < live || !m.cachedDecodeWeights().transposed, 'release frees the transposed copies');
  m.releaseDecodeWeights();
  m.decodeWeights = orig;
  m.dispose();
});

test('generate decodes a small CPU model on one intra-op thread and restores the caller\'s count, also when it throws', () => {
  const m = tinyModel();
  const before = torch.getNumThreads();
  try {
    torch.setNumThreads(2);
    const w = m.decodeWeights();
    assert.equal(w.threads, 1, 'weights ≤ 8 MiB on the CPU with 2 threads set: decode on 1');
    w.dispose();
    let seen = 0;
    generate(m, PROMPTS, { maxNewTokens: 3, greedy: true, onStep: () => (seen = torch.getNumThreads()) });
    assert.equal(seen, 1, 'threads while decoding');
    assert.equal(torch.getNumThreads(), 2, 'restored after');
    // non-finite logits make generate throw mid-loop (it names the sample): the count is restored too
    noGrad(() => m.lmHeadWeight.fill_(Number.NaN));
    assert.throws(() => generate(m, PROMPTS, { maxNewTokens: 3, temperature: 1, seed: 1 }), /logits are not finite/);
    assert.equal(torch.getNumThreads(), 2, 'restored after a throw');
    torch.setNumThreads(1);
    const one = m.decodeWeights();
    assert.equal(one.threads, null, 'already one thread: nothing to change');
    one.dispose();
  } finally {
    torch.setNumThreads(before);
    m.dispose();
  }
});

test('a 64 MiB lm_head decodes in vocabulary blocks: greedy tokens and log-probs = full forward passes (float64)', () => {
  // 8192 × 1024 float64 = 64 MiB: decodeStep's blocked lm_head (BlockedLmHead in native/src/nn.cc)
  const m = tinyModel({ vocabSize: 8192, hiddenSize: 1024, intermediateSize: 64, numLayers: 1, numHeads: 8, numKvHeads: 4 }, 'float64', 3, 0.05);
  const prompts = randomPrompts([5, 9, 3], 8192, 7);
  // the blocked product serves the weights as they are
  const out = withDecodeOptions(m, { transpose: false }, () => generate(m, prompts, { maxNewTokens: 4, greedy: true }));
  let maxDiff = 0;
  prompts.forEach((p, i) => {
    const seq = [...p];
    for (let t = 0; t < 4; t++) {
      const z = nextLogits(m, seq);
      const id = argmax(z);
      assert.equal(out[i]!.tokenIds[t], id, `prompt ${i} token ${t}`);
      maxDiff = Math.max(maxDiff, Math.abs(out[i]!.logprobs[t]! - logSoftmaxAt(z, id)));
      seq.push(id);
    }
  });
  console.log(`blocked lm_head (8192 × 1024 float64): 12 greedy tokens = full-forward argmax; max |Δ log-prob| = ${maxDiff.toExponential(2)} (tol 1e-6: sampled log-probs are float32)`);
  assert.ok(maxDiff <= 1e-6, `max |Δ log-prob| ${maxDiff}`);
  m.dispose();
});

test('decodeWeights: XNNPACK-packed weights decode as the weights do (float32), and decodeStep reads the packed copies', () => {
  const m = tinyModel({ vocabSize: 512, hiddenSize: 64, intermediateSize: 160 }, 'float32');
  if (!torch.packedLinearAvailable()) {
    // PyPI's 2.x wheels register no prepacked ops: the default packs nothing, pack: true says why
    const d = m.decodeWeights();
    assert.equal(d.packed, null);
    d.dispose();
    assert.throws(() => m.decodeWeights({ pack: true }), /XNNPACK's prepacked linear/);
    console.log(`libtorch ${torch.version().libtorch}: no XNNPACK prepacked linear; decodeWeights packs nothing`);
    m.dispose();
    return;
  }
  // policy: a tiny model's weights are all under 8 MiB, so nothing is packed by default
  const dflt = m.decodeWeights();
  assert.equal(dflt.packed, null, 'weights under packMinBytes stay unpacked');
  dflt.dispose();
  const all = m.decodeWeights({ packMinBytes: 0 });
  const L = m.config.numLayers;
  assert.equal(all.packed!.length, 7 * L + 1);
  assert.ok(all.packed!.every((p) => p !== null), 'every linear and lm_head packed');
  assert.equal(all.packedRows, 32);
  const budget = m.decodeWeights({ packMinBytes: 0, maxPackBytes: m.lmHeadWeight.numel * 4 });
  assert.deepEqual(budget.packed!.map((p) => p !== null), [...Array(7 * L).fill(false), true], 'lm_head first within maxPackBytes');
  all.dispose();
  budget.dispose();
  assert.throws(() => tinyModel({}, 'float64').decodeWeights({ pack: true }), /float32 weights on the CPU/);

  // same greedy tokens as the unpacked weights, log-probs within float32 rounding
  const opts = { n: 3, maxNewTokens: 12, greedy: true, maxBatchRows: 5, stopTokenIds: [3, 5, 7, 11] };
  const packed = withDecodeOptions(m, { packMinBytes: 0 }, () => generate(m, PROMPTS, opts));
  const plain = withDecodeOptions(m, { pack: false }, () => generate(m, PROMPTS, opts));
  let maxDiff = 0;
  packed.forEach((s, i) => {
    assert.deepEqual(s.tokenIds, plain[i]!.tokenIds, `sample ${i}: same tokens`);
    s.logprobs.forEach((lp, j) => (maxDiff = Math.max(maxDiff, Math.abs(lp - plain[i]!.logprobs[j]!))));
  });
  console.log(`packed vs unpacked decode weights (float32): ${packed.reduce((x, s) => x + s.tokenIds.length, 0)} greedy tokens equal, max |Δ log-prob| = ${maxDiff.toExponential(2)} (tol 1e-4)`);
  assert.ok(maxDiff <= 1e-4, `max |Δ log-prob| ${maxDiff}`);

  // the packed copies are what the step reads (for steps within packedRows): zero the layers' live
  // linear weights and biases after packing (embeddings, norms and the tied lm_head stay), and
  // only steps that fall back to the live weights change
  const step = (d: ReturnType<CausalLM['decodeWeights']>, dispose = false) => {
    const cache = new KVCache(m.config, 3, 4, m.dtype, 'prealloc', 'cpu');
    const [tok, lp] = m.decodeStep(torch.tensor(BigInt64Array.from([1n, 2n, 3n])), torch.tensor(BigInt64Array.from([0n, 0n, 0n])), 0, cache, { temperature: 1, topP: 1, topK: 0, greedy: true, weights: d });
    const r = { tok: tok.toFlatArray(), lp: lp.toFlatArray() };
    torch.dispose([tok, lp, cache]);
    if (dispose) d.dispose();
    return r;
  };
  const before = step(m.decodeWeights({ pack: false }), true);
  const wide = m.decodeWeights({ packMinBytes: 0, transpose: false }), narrow = m.decodeWeights({ packMinBytes: 0, transpose: false, packedRows: 2 });
  noGrad(() => m.model.layers.items.forEach((l) => l.nativeWeights().forEach((w, i) => w && i !== 0 && i !== 9 && i < 16 && w.zero_())));
  const zeroed = step(m.decodeWeights({ pack: false }), true);
  assert.ok(zeroed.lp.some((v, i) => Math.abs(v - before.lp[i]!) > 1e-3), 'zeroing the layers changes the step');
  const viaPacked = step(wide), viaLive = step(narrow);
  assert.deepEqual(viaPacked.tok, before.tok, '3 rows ≤ packedRows 32: the packed (pre-zeroing) weights');
  viaPacked.lp.forEach((v, i) => assert.ok(Math.abs(v - before.lp[i]!) <= 1e-5, `row ${i}: ${v} vs ${before.lp[i]}`));
  assert.deepEqual(viaLive.lp, zeroed.lp, '3 rows > packedRows 2: the live (zeroed) weights');
  wide.dispose();
  narrow.dispose();
  assert.throws(() => step(wide), /released/, 'a disposed packed copy is refused, not read');
  m.dispose();
});
