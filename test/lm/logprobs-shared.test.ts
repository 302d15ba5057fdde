/**
 * sharedPromptLogprobs (each prompt decoded once, its cache rows repeated for its K responses)
 * against logprobs over the packed (N, Lp + Lr) rows: values at several temperatures and the
 * parameters' gradients, float64 (tight) and float32, Qwen2 (grouped-query heads, biases) and
 * Qwen3 (q/k norms); prompts of different lengths (left padding), responses of different lengths
 * (right padding, one of length 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { noGrad, type Tensor } from '../../src/torch/index.js';
import { logprobs, packSequences, sharedPromptLogprobs, type CausalLM } from '../../src/lm/index.js';
import { assertClose, randomPrompts, tinyModel } from './fixtures.js';

const K = 3;
const PROMPTS = randomPrompts([6, 2, 9], 256, 5); // B = 3
const RESPONSES = randomPrompts([5, 1, 7, 3, 3, 8, 2, 6, 4], 256, 9); // N = 9: rows 3b … 3b+2 answer prompt b

/** The packed batch of every (prompt, response) pair and the shared-prompt inputs cut from it. */
function inputs() {
  const b = packSequences(RESPONSES.map((_, i) => PROMPTS[Math.floor(i / K)]!), RESPONSES, 0);
  const P = b.responseStart, T = b.inputIds.size(1) - P;
  const firsts = torch.tensor(BigInt64Array.from(PROMPTS.map((_, g) => BigInt(g * K))));
  return {
    b, P, T,
    promptIds: b.inputIds.narrow(1, 0, P).indexSelect(0, firsts), promptMask: b.attentionMask.narrow(1, 0, P).indexSelect(0, firsts),
    responseIds: b.inputIds.narrow(1, P, T), responseMask: b.responseMask.narrow(1, P, T),
  };
}

function compare(m: CausalLM, tol: number, gradTol: number, label: string): void {
  const x = inputs();
  // values, no grad, temperature 0.7 with 1 alongside
  const full = noGrad(() => logprobs(m, x.b.inputIds, { attentionMask: x.b.attentionMask, responseMask: x.b.responseMask, responseStart: x.P, temperature: 0.7, alsoTemperatures: [1] }));
  const shared = noGrad(() => sharedPromptLogprobs(m, x.promptIds, x.promptMask, x.responseIds, x.responseMask, K, { temperature: 0.7, alsoTemperatures: [1] }));
  assertClose(`${label} no grad, T=0.7`, shared.logprobs, full.logprobs.narrow(1, x.P, x.T), tol);
  assertClose(`${label} no grad, T=1 (alsoTemperatures)`, shared.logprobsAt![0]!, full.logprobsAt![0]!.narrow(1, x.P, x.T), tol);
  // entropies at T=0.7 (withEntropy), without and with gradients, against logprobs' over the packed rows
  const fullEnt = noGrad(() => logprobs(m, x.b.inputIds, { attentionMask: x.b.attentionMask, responseMask: x.b.responseMask, responseStart: x.P, temperature: 0.7, withEntropy: true }));
  const sharedEnt = noGrad(() => sharedPromptLogprobs(m, x.promptIds, x.promptMask, x.responseIds, x.responseMask, K, { temperature: 0.7, withEntropy: true }));
  assertClose(`${label} entropy, no grad`, sharedEnt.entropy!, fullEnt.entropy!.narrow(1, x.P, x.T), tol);
  const sharedEntGrad = torch.tidy(() => torch.keep(sharedPromptLogprobs(m, x.promptIds, x.promptMask, x.responseIds, x.responseMask, K, { temperature: 0.7, withEntropy: true }).entropy!.detach()));
  assertClose(`${label} entropy, grad mode`, sharedEntGrad, fullEnt.entropy!.narrow(1, x.P, x.T), tol);
  assert.ok(noGrad(() => torch.tidy(() => sharedEnt.entropy!.max().item())) > 0);
  torch.dispose([fullEnt, sharedEnt, sharedEntGrad]);
  // gradients of a weighted sum of the log-probs
  torch.manualSeed(3);
  const w = torch.randn([RESPONSES.length, x.T], { dtype: shared.logprobs.dtype });
  const grads = (f: () => Tensor): Tensor[] => {
    m.zeroGrad();
    torch.tidy(() => f().mul(w).sum().backward());
    return m.parameters().map((p) => torch.keep(p.grad!));
  };
  let lpShared: Tensor | null = null;
  const gFull = grads(() => logprobs(m, x.b.inputIds, { attentionMask: x.b.attentionMask, responseMask: x.b.responseMask, responseStart: x.P }).logprobs.narrow(1, x.P, x.T));
  const gShared = grads(() => (lpShared = torch.keep(sharedPromptLogprobs(m, x.promptIds, x.promptMask, x.responseIds, x.responseMask, K).logprobs)));
  assert.ok(lpShared !== null && (lpShared as Tensor).requiresGrad, 'differentiable with grad mode on');
  let worst = 0;
  gFull.forEach((g, i) => (worst = Math.max(worst, torch.tidy(() => g.sub(gShared[i]!).abs().max().item()))));
  console.log(`${label} gradients of Σ w·logp over ${gFull.length} parameters: max |diff| ${worst.toExponential(2)} (tol ${gradTol})`);
  assert.ok(worst <= gradTol);
  torch.dispose([full, shared, w, ...gFull, ...gShared, lpShared!, x.b, x.promptIds, x.promptMask]);
  m.zeroGrad();
}

test('sharedPromptLogprobs = logprobs on the packed rows: values and gradients (float64, float32; Qwen2, Qwen3)', () => {
  for (const [family, over] of [['qwen2', {}], ['qwen3', { modelType: 'qwen3' }]] as const) {
    const m64 = tinyModel(over, 'float64');
    compare(m64, 1e-12, 1e-11, `${family} float64`);
    m64.dispose();
    const m32 = tinyModel(over, 'float32');
    compare(m32, 2e-5, 2e-4, `${family} float32`);
    m32.dispose();
  }
});

test('sharedPromptLogprobs: response count must be B·K', () => {
  const m = tinyModel();
  const x = inputs();
  assert.throws(() => noGrad(() => sharedPromptLogprobs(m, x.promptIds, x.promptMask, x.responseIds, x.responseMask, 2)), /9 responses for 3 prompts × K=2/);
  torch.dispose([x.b, x.promptIds, x.promptMask]);
  m.dispose();
});

test('sharedPromptLogprobs: with and without gradients bit-identical (a trained PRM equal to its reference gives reward 0)', () => {
  const m = tinyModel();
  const x = inputs();
  const a = noGrad(() => sharedPromptLogprobs(m, x.promptIds, x.promptMask, x.responseIds, x.responseMask, K).logprobs);
  const b = sharedPromptLogprobs(m, x.promptIds, x.promptMask, x.responseIds, x.responseMask, K).logprobs;
  assert.ok(b.requiresGrad);
  const d = torch.tidy(() => a.sub(b.detach()).abs().max().item());
  console.log(`no grad vs grad: max |diff| ${d}`);
  assert.equal(d, 0);
  torch.dispose([a, b, x.b, x.promptIds, x.promptMask]);
  m.dispose();
});
