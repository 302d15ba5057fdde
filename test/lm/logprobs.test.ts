import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { noGrad, tidy, type Tensor } from '../../src/torch/index.js';
import { logprobs, packSequences, positionIdsFromMask, type CausalLM } from '../../src/lm/index.js';
import { assertClose, randomPrompts, tinyModel } from './fixtures.js';

/** The plain definition: full logits → log_softmax → pick the next token, loop over every (b, t). */
function naiveLogprobs(m: CausalLM, ids: Tensor, mask: Tensor, temperature = 1): { lp: number[][]; ent: number[][] } {
  return noGrad(() => tidy(() => {
    const z = m.logits(m.forward(ids, { positionIds: positionIdsFromMask(mask), attentionMask: mask })).div(temperature); // (B, T, V)
    const ls = z.logSoftmax(-1).toArray() as number[][][];
    const idArr = ids.toArray() as number[][];
    const lp = idArr.map((row, b) => row.map((tok, t) => (t === 0 ? 0 : ls[b]![t - 1]![tok]!)));
    const ent = idArr.map((row, b) => row.map((_, t) => (t === 0 ? 0 : -ls[b]![t - 1]!.reduce((s, l) => s + Math.exp(l) * l, 0))));
    return { lp, ent };
  }));
}

const PROMPTS = randomPrompts([6, 3, 4], 256, 5);
const RESPONSES = randomPrompts([5, 2, 7], 256, 9);

test('logprobs equal the plain per-token definition; zero outside the response; entropy too', () => {
  const m = tinyModel({}, 'float64');
  const b = packSequences(PROMPTS, RESPONSES, 0);
  const ref = naiveLogprobs(m, b.inputIds, b.attentionMask, 0.7);
  const resp = b.responseMask.toArray() as number[][];
  const want = torch.tensor(ref.lp.map((r, i) => r.map((v, t) => v * resp[i]![t]!)), { dtype: 'float64' });
  const wantEnt = torch.tensor(ref.ent.map((r, i) => r.map((v, t) => v * resp[i]![t]!)), { dtype: 'float64' });
  for (const chunkElements of [undefined, 300]) { // default: one chunk; 300: one position per chunk
    const out = noGrad(() => logprobs(m, b.inputIds, { attentionMask: b.attentionMask, responseMask: b.responseMask, temperature: 0.7, withEntropy: true, chunkElements }));
    assert.deepEqual(out.logprobs.shape, b.inputIds.shape);
    assertClose(`logprobs vs definition (chunkElements ${chunkElements ?? 'default'})`, out.logprobs, want, 1e-12);
    assertClose(`entropy vs definition (chunkElements ${chunkElements ?? 'default'})`, out.entropy!, wantEnt, 1e-12);
    // responseStart given instead of inferred: same values
    const out2 = noGrad(() => logprobs(m, b.inputIds, { attentionMask: b.attentionMask, responseMask: b.responseMask, responseStart: b.responseStart, temperature: 0.7, chunkElements }));
    assert.ok(out2.logprobs.equal(out.logprobs));
    torch.dispose([out, out2]);
  }
  torch.dispose([b, want, wantEnt]);
  m.dispose();
});

test('logprobs without masks score every position ≥ 1; padding rows do not change real rows', () => {
  const m = tinyModel({ modelType: 'llama', numKvHeads: 1 }, 'float64');
  const seq = randomPrompts([9], 256, 13)[0]!;
  tidy(() => {
    const alone = noGrad(() => logprobs(m, torch.tensor([seq])).logprobs); // (1, 9)
    assert.equal(alone.select(1, 0).item(), 0);
    // the same sequence as the second row of a padded batch (prompt part = first 4 tokens)
    const b = packSequences([[1, 2, 3, 4, 5, 6, 7], seq.slice(0, 4)], [[8, 9], seq.slice(4)], 0);
    const batched = noGrad(() => logprobs(m, b.inputIds, { attentionMask: b.attentionMask }).logprobs);
    // row 1: prompt left-padded by 3, response right-padded by 0 → seq occupies columns 3 … 11
    assertClose('padded row vs alone (positions 1…8)', batched.select(0, 1).narrow(0, 4, 8), alone.select(0, 0).narrow(0, 1, 8), 1e-12);
    assert.equal(batched.select(0, 1).narrow(0, 0, 4).abs().sum().item(), 0, 'padding and the first real token score 0');
  });
  m.dispose();
});

test('logprobs are differentiable and the gradient matches the unchunked loss', () => {
  const m = tinyModel({}, 'float32');
  const b = packSequences(PROMPTS, RESPONSES, 0);
  const gradsOf = (chunkElements: number | undefined): Map<string, Tensor> => {
    m.zeroGrad();
    tidy(() => logprobs(m, b.inputIds, { attentionMask: b.attentionMask, responseMask: b.responseMask, chunkElements }).logprobs.sum().backward());
    return new Map(m.namedParameters().map(([n, p]) => [n, p.grad!]));
  };
  const g1 = gradsOf(undefined), g2 = gradsOf(400);
  for (const [n, g] of g1) {
    assert.ok(g, `gradient for ${n}`);
    assert.ok(tidy(() => g.abs().sum().item()) > 0, `nonzero gradient for ${n}`);
    const [d, scale] = tidy(() => [g.sub(g2.get(n)!).abs().max().item(), g.abs().max().item()]);
    assert.ok(d <= 1e-5 * scale, `chunked gradient equals for ${n}: max diff ${d} (scale ${scale})`);
  }
  console.log('logprobs backward: every parameter has a gradient; chunked == unchunked');
  torch.dispose([[...g1.values()], [...g2.values()], b]);
  m.zeroGrad();
  m.dispose();
});

test('padding removed from the scored positions: values and gradients = the full (B, T, V) log-softmax, masked', () => {
  // right-padded responses of lengths 5, 2, 7 and left-padded prompts: lm_head runs on the scored
  // positions only; the reference scores every position and masks afterwards
  const m = tinyModel({}, 'float64');
  const b = packSequences(PROMPTS, RESPONSES, 0);
  const T = b.inputIds.size(1);
  const full = (mask: Tensor): Tensor => {
    const z = m.logits(m.forward(b.inputIds, { positionIds: positionIdsFromMask(b.attentionMask), attentionMask: b.attentionMask })); // (B, T, V)
    const lp = z.narrow(1, 0, T - 1).logSoftmax(-1).gather(2, b.inputIds.narrow(1, 1, T - 1).unsqueeze(2)).squeeze(2); // (B, T−1)
    return torch.cat([torch.zeros([lp.size(0), 1], { dtype: lp.dtype }), lp], 1).mul(mask.to('float64'));
  };
  const real = b.attentionMask.to('float64');
  const both = real.mul(torch.cat([torch.zeros([real.size(0), 1], { dtype: 'float64' }), real.narrow(1, 0, T - 1)], 1)); // token and predecessor real
  const cases: [string, { attentionMask: Tensor; responseMask?: Tensor }, Tensor][] = [
    ['responseMask', { attentionMask: b.attentionMask, responseMask: b.responseMask }, b.responseMask],
    ['attentionMask only', { attentionMask: b.attentionMask }, both],
  ];
  const scoredCount = b.responseMask.sum().item(), window = b.inputIds.size(0) * (T - b.responseStart);
  assert.ok(scoredCount < window, `the window holds padding (${scoredCount} of ${window} scored)`);
  for (const [name, opts, mask] of cases) {
    const w = torch.randn(b.inputIds.shape, { dtype: 'float64' }); // a weighted sum: every position's gradient counts differently
    const grads = (f: () => Tensor): [number[][], Map<string, Tensor>] => {
      m.zeroGrad();
      const v = tidy(() => {
        const lp = f();
        lp.mul(w).sum().backward();
        return lp.toArray() as number[][];
      });
      return [v, new Map(m.namedParameters().map(([n, p]) => [n, p.grad!.clone()]))];
    };
    const [va, ga] = grads(() => logprobs(m, b.inputIds, opts).logprobs);
    const [vb, gb] = grads(() => full(mask));
    let dv = 0, dg = 0;
    va.forEach((r, i) => r.forEach((x, t) => (dv = Math.max(dv, Math.abs(x - vb[i]![t]!)))));
    for (const [n, g] of ga) dg = Math.max(dg, tidy(() => g.sub(gb.get(n)!).abs().max().item()));
    console.log(`${name}: padding-free logprobs vs full masked log-softmax: max |Δ value| ${dv.toExponential(2)}, max |Δ grad| ${dg.toExponential(2)} (tol 1e-10)`);
    assert.ok(dv <= 1e-10 && dg <= 1e-10, `${name}: values ${dv}, gradients ${dg}`);
    torch.dispose([w, [...ga.values()], [...gb.values()]]);
  }
  torch.dispose([b, real, both]);
  m.zeroGrad();
  m.dispose();
});

test('a batch with nothing scored: zeros, and backward still runs (zero gradients)', () => {
  const m = tinyModel({}, 'float32');
  const b = packSequences(PROMPTS, RESPONSES, 0);
  const none = torch.zerosLike(b.responseMask);
  m.zeroGrad();
  tidy(() => {
    const lp = logprobs(m, b.inputIds, { attentionMask: b.attentionMask, responseMask: none }).logprobs;
    assert.equal(lp.abs().sum().item(), 0);
    lp.sum().backward();
  });
  const g = m.namedParameters().map(([, p]) => (p.grad ? tidy(() => p.grad!.abs().max().item()) : 0));
  assert.ok(g.every((x) => x === 0), 'zero gradients');
  m.zeroGrad();
  torch.dispose([b, none]);
  m.dispose();
});

test('logprobs leave no live tensors behind (forward and backward)', () => {
  const m = tinyModel({}, 'float32');
  const b = packSequences(PROMPTS, RESPONSES, 0);
  noGrad(() => torch.dispose(logprobs(m, b.inputIds))); // builds the model's RoPE table (model state)
  const start = torch.memory().tensors;
  for (let i = 0; i < 3; i++) {
    const out = noGrad(() => logprobs(m, b.inputIds, { attentionMask: b.attentionMask, responseMask: b.responseMask, withEntropy: true }));
    torch.dispose(out);
    tidy(() => logprobs(m, b.inputIds, { attentionMask: b.attentionMask, responseStart: b.responseStart }).logprobs.sum().backward());
    m.zeroGrad();
  }
  assert.equal(torch.memory().tensors, start);
  torch.dispose(b);
  m.dispose();
});
