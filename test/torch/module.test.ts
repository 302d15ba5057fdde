/**
 * nn.Module: named parameters and buffers in registration order with dotted names,
 * stateDict / loadStateDict round trip and its errors (missing, unexpected, mis-shaped),
 * train / eval reaching every submodule, dtype casts, disposal; the layers' forward passes
 * against their definitions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { Dropout, Embedding, LayerNorm, Linear, Module, RMSNorm, type Tensor } from '../../src/torch/index.js';
import { assertClose, noLeak } from './helpers.js';

class Block extends Module {
  norm: RMSNorm; proj: Linear; drop: Dropout; scale: Tensor;
  constructor(d: number) {
    super();
    this.norm = this.child('norm', new RMSNorm(d));
    this.proj = this.child('proj', new Linear(d, d, { bias: false }));
    this.drop = this.child('drop', new Dropout(0.5));
    this.scale = this.buffer('scale', torch.full([1], 2, { dtype: 'float32' }));
    this.buffer('cache', torch.zeros([d]), false); // not persistent: not in the state dict
  }
  forward(x: Tensor): Tensor { return this.drop.forward(this.proj.forward(this.norm.forward(x))).mul(this.scale); }
}
class Net extends Module {
  emb: Embedding; block: Block; head: Linear;
  constructor(v = 5, d = 3) {
    super();
    this.emb = this.child('emb', new Embedding(v, d));
    this.block = this.child('block', new Block(d));
    this.head = this.child('head', new Linear(d, v));
  }
}

test('namedParameters, namedBuffers, parameters, numParameters', () => noLeak(() => {
  const net = new Net();
  assert.deepEqual(net.namedParameters().map(([n, p]) => [n, p.shape]), [
    ['emb.weight', [5, 3]], ['block.norm.weight', [3]], ['block.proj.weight', [3, 3]], ['head.weight', [5, 3]], ['head.bias', [5]],
  ]);
  assert.ok(net.parameters().every((p) => p.requiresGrad && p.isLeaf), 'parameters require grad');
  assert.equal(net.numParameters(), 15 + 3 + 9 + 15 + 5);
  assert.deepEqual(net.namedBuffers().map(([n]) => n), ['block.scale', 'block.cache']);
  assert.deepEqual(net.namedBuffers('', true).map(([n]) => n), ['block.scale']);
  assert.deepEqual(net.namedModules().map(([n]) => n), ['', 'emb', 'block', 'block.norm', 'block.proj', 'block.drop', 'head']);
  // parameters are kept: a tidy scope around the constructor does not free them
  const inScope = torch.tidy(() => new Linear(2, 2));
  assert.equal(inScope.weight.isDisposed, false);
  inScope.dispose();
  assert.equal(inScope.weight.isDisposed, true);
  net.dispose();
}));

test('stateDict / loadStateDict round trip copies values into the existing tensors', () => noLeak(() => {
  torch.manualSeed(1);
  const a = new Net(), b = new Net();
  const sd = a.stateDict();
  assert.deepEqual([...sd.keys()], ['emb.weight', 'block.norm.weight', 'block.proj.weight', 'head.weight', 'head.bias', 'block.scale']);
  assert.equal(sd.get('head.bias'), a.head.bias, 'the tensors themselves, not copies');
  const before = b.head.weight;
  assert.ok(!b.head.weight.equal(a.head.weight));
  b.loadStateDict(sd);
  for (const [n, t] of b.stateDict()) assert.ok(t.equal(sd.get(n)!), `${n} equal after load`);
  assert.equal(b.head.weight, before, 'loaded in place: same tensor object');
  assert.ok(b.head.weight.requiresGrad, 'still a parameter');
  // a loaded module computes what the original does
  const ids = torch.tensor([[0, 4, 2]]);
  a.eval(); b.eval();
  const fa = a.head.forward(a.block.forward(a.emb.forward(ids))), fb = b.head.forward(b.block.forward(b.emb.forward(ids)));
  assertClose('same outputs after load', fb, fa.toFlatArray(), { atol: 0 });
  a.dispose(); b.dispose();
}));

test('loadStateDict errors name the missing, unexpected and mis-shaped entries', () => noLeak(() => {
  const net = new Net();
  const good = new Map([...net.stateDict()].map(([k, v]) => [k, v.clone()]));
  const missing = new Map(good);
  missing.delete('head.bias');
  assert.throws(() => net.loadStateDict(missing), /loadStateDict: missing head\.bias/);
  const extra = new Map(good);
  extra.set('head.extra', torch.zeros([1]));
  assert.throws(() => net.loadStateDict(extra), /loadStateDict: unexpected head\.extra/);
  missing.set('block.bogus', torch.zeros([1]));
  assert.throws(() => net.loadStateDict(missing), /missing head\.bias; unexpected block\.bogus/);
  const misshaped = new Map(good);
  misshaped.set('head.weight', torch.zeros([3, 5]));
  assert.throws(() => net.loadStateDict(misshaped), /'head\.weight' has shape \[3,5\] but the module expects \[5,3\]/);
  // non-strict: missing and unexpected are skipped, shapes still checked
  const partial = new Map([['head.bias', torch.full([5], 7)], ['nope', torch.zeros([1])]]);
  net.loadStateDict(partial, { strict: false });
  assertClose('non-strict load', net.head.bias!, [7, 7, 7, 7, 7], { atol: 0 });
  net.dispose();
}));

test('train / eval reach every submodule and switch dropout', () => noLeak(() => {
  const net = new Net();
  assert.ok(net.namedModules().every(([, m]) => m.training));
  net.eval();
  assert.ok(net.namedModules().every(([, m]) => !m.training), 'eval() everywhere');
  const x = torch.ones([4, 3]);
  const evalOut = net.block.drop.forward(x);
  assertClose('dropout in eval is identity', evalOut, new Array(12).fill(1), { atol: 0 });
  net.train();
  assert.ok(net.block.drop.training);
  torch.manualSeed(2);
  const trainOut = net.block.drop.forward(torch.ones([1000])).toFlatArray();
  assert.ok(trainOut.some((v) => v === 0) && trainOut.some((v) => v === 2), 'dropout active in train');
  net.dispose();
}));

test('Module.to(dtype) casts floating parameters and buffers, keeps them parameters', () => noLeak(() => {
  const net = new Net();
  const w = net.head.weight.toFlatArray();
  const base = torch.memory().tensors;
  net.to('float64');
  assert.equal(torch.memory().tensors, base, 'old tensors disposed');
  assert.ok([...net.namedParameters(), ...net.namedBuffers()].every(([, t]) => t.dtype === 'float64'));
  assert.equal(net.head.weight.dtype, 'float64', 'the field follows the new tensor');
  assert.ok(net.head.weight.requiresGrad);
  assertClose('values preserved', net.head.weight, w, { atol: 0 });
  net.to('bfloat16');
  assert.equal(net.emb.weight.dtype, 'bfloat16');
  net.dispose();
}));

test('layers compute their definitions', () => noLeak(() => {
  const lin = new Linear(3, 2);
  const x = torch.tensor([[1, 2, 3]], { dtype: 'float32' });
  const w = lin.weight.toFlatArray(), b = lin.bias!.toFlatArray();
  assertClose('Linear', lin.forward(x), [0, 1].map((o) => b[o]! + w[o * 3]! * 1 + w[o * 3 + 1]! * 2 + w[o * 3 + 2]! * 3), { atol: 1e-6 });
  // default init: U(−1/√in, 1/√in)
  const big = new Linear(100, 50);
  const wv = big.weight.toFlatArray();
  assert.ok(wv.every((v) => Math.abs(v) <= 0.1) && Math.max(...wv) > 0.09, 'Linear init bound 1/√in');
  const emb = new Embedding(4, 2);
  assertClose('Embedding', emb.forward(torch.tensor([3, 0])), [...emb.weight.select(0, 3).toFlatArray(), ...emb.weight.select(0, 0).toFlatArray()], { atol: 0 });
  const ln = new LayerNorm(4);
  assertClose('LayerNorm init: zero mean', ln.forward(torch.tensor([[1, 2, 3, 10]], { dtype: 'float32' })).mean(), 0, { atol: 1e-6 });
  const rms = new RMSNorm(2, 1e-6);
  assertClose('RMSNorm', rms.forward(torch.tensor([[3, 4]], { dtype: 'float32' })), [3 / Math.sqrt(12.5), 4 / Math.sqrt(12.5)], { atol: 1e-6 });
  for (const m of [lin, big, emb, ln, rms]) m.dispose();
}));
