// XNNPACK's prepacked linear (libtorch's prepacked::linear_clamp_*, native/src/packed.cc) against
// at::linear in float64 on the same values: the output pieces, the bias, the threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';

const maxDiff = (a: torch.Tensor, b: torch.Tensor) => torch.tidy(() => a.to('float64').sub(b.to('float64')).abs().max().item());

test('packLinear = x·Wᵀ + b (float64 reference) for any number of pieces, rows and threads; bad input is refused', () => {
  if (!torch.packedLinearAvailable()) {
    assert.throws(() => torch.packLinear(torch.randn([4, 3])), /has no XNNPACK prepacked linear/);
    console.log(`libtorch ${torch.version().libtorch}: no XNNPACK prepacked linear (packLinear throws, as checked)`);
    return;
  }
  const threads = torch.getNumThreads();
  torch.manualSeed(3);
  const W = torch.randn([300, 70]), b = torch.randn([300]);
  const ref = (x: torch.Tensor, bias: boolean) => torch.tidy(() => torch.linear(x.to('float64'), W.to('float64'), bias ? b.to('float64') : null));
  for (const nt of [1, 2]) {
    torch.setNumThreads(nt);
    for (const parts of [1, 3, 8, 300, 1000]) {
      for (const bias of [false, true]) {
        const p = torch.packLinear(W, bias ? b : null, { parts });
        for (const rows of [1, 5, 33]) {
          const x = torch.randn([rows, 70]);
          const y = p.forward(x), r = ref(x, bias);
          assert.deepEqual(y.shape, [rows, 300]);
          const d = maxDiff(y, r);
          assert.ok(d <= 1e-4, `threads ${nt}, parts ${parts}, bias ${bias}, rows ${rows}: max |Δ| ${d}`);
          torch.dispose([x, y, r]);
        }
        p.dispose();
      }
    }
  }
  torch.setNumThreads(threads);
  // each piece lands in its own columns: a weight whose row i is i·e₀ maps x = e₀ to 0, 1, …, out−1
  const idx = torch.zeros([37, 5]);
  torch.noGrad(() => idx.select(1, 0).copy_(torch.arange(0, 37, 1, { dtype: 'float32' })));
  const pi = torch.packLinear(idx, null, { parts: 4 });
  const e0 = torch.tensor([[1, 0, 0, 0, 0]], { dtype: 'float32' });
  assert.deepEqual(pi.forward(e0).toFlatArray(), Array.from({ length: 37 }, (_, i) => i));
  pi.dispose();
  // a weight that requires grad packs (its values; the copy does not follow later changes)
  const g = torch.randn([16, 8]).requiresGrad_();
  const pg = torch.packLinear(g);
  const x = torch.randn([2, 8]);
  const d0 = maxDiff(pg.forward(x), torch.noGrad(() => torch.linear(x, g)));
  torch.noGrad(() => g.mul_(2));
  const d1 = maxDiff(pg.forward(x), torch.noGrad(() => torch.linear(x, g.div(2))));
  assert.ok(d0 <= 1e-5 && d1 <= 1e-5, `requires-grad weight: ${d0}, after doubling it the packed copy still holds the old values: ${d1}`);
  console.log(`packLinear vs float64 linear: parts 1–1000, rows 1–33, 1 and 2 threads within 1e-4; requires-grad weight ${d0.toExponential(2)}`);
  assert.throws(() => pg.forward(torch.randn([2, 9])), /expected a \(rows, 8\) float32 CPU input/);
  assert.throws(() => pg.forward(torch.randn([2, 8], { dtype: 'float64' })), /float32 CPU input/);
  pg.dispose();
  assert.throws(() => pg.forward(x), /used after dispose/);
  assert.throws(() => torch.packLinear(torch.randn([4, 3], { dtype: 'float64' })), /2-D float32 CPU weight/);
  assert.throws(() => torch.packLinear(torch.randn([4])), /must be 2-D/);
  assert.throws(() => torch.packLinear(torch.randn([4, 3]), torch.randn([5])), /bias of 4 values/);
  assert.throws(() => torch.packLinear(torch.randn([4, 3]), null, { parts: 0 }), /parts must be a positive integer/);
});
