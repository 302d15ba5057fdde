/**
 * Nothing native may abort the process: wrong argument types, impossible sizes and malformed
 * calls straight into the addon (bypassing the typed layer) must all become JS errors. Each
 * case runs in this process, so an abort would kill the test run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { N } from '../../src/torch/native.js';
import { noLeak } from './helpers.js';

test('malformed native calls throw JS errors with a reason', () => noLeak(() => {
  const t = torch.ones([2, 3]);
  const cases: [string, () => unknown, RegExp][] = [
    ['index list holding a number', () => N.index(t.handle, [5]), /must be an array of tensors or nulls/],
    ['index list holding a plain object', () => N.index(t.handle, [{}]), /must be an array of tensors or nulls/],
    ['index list not an array', () => N.index(t.handle, 5), /must be an array of tensors or nulls/],
    ['shape of strings', () => N.zeros(['a'], null, null), /must be an array of integers/],
    ['shape overflowing int64', () => torch.zeros([1e20]), /overflow/],
    ['allocation beyond memory', () => torch.empty([1e8, 1e8]), /out of memory allocating \d+ bytes/],
    ['a plain object as a tensor', () => N.gather(t.handle, 1, {}), /argument 2 must be a tensor/],
    ['a list of numbers as tensors', () => N.cat([1, 2], 0), /argument 0 must be an array of tensors/],
    ['no arguments', () => N.item(), /argument 0 must be a tensor/],
    ['bytes that are not a typed array', () => N.fromBytes(5, [1], 'float32', null), /must be a typed array/],
    ['a handle constructed from JS', () => N.add(new N.NativeTensor(), 1), /used after dispose/],
    ['optimizer state lists of the wrong length', () => N.adamwStep([t.handle], [], [], 1, 1e-3, 0.9, 0.999, 1e-8, 0), /1 params but 0 exp_avg/],
    ['momentum buffers of the wrong length', () => N.sgdStep([t.handle, t.handle], [t.handle], 0.1, 0.9, 0, false), /2 params but 1 momentum buffers/],
    ['reading a missing file', () => N.readTensor('/nonexistent/x.safetensors', 0, 4, [1], 'float32'), /No such file or directory/],
    ['a byte range of the wrong size', () => N.readTensor('/dev/null', 0, 3, [1], 'float32'), /holds 3 bytes but shape and dtype need 4/],
    ['reading past the end of a file', () => N.readTensor('/dev/null', 0, 4, [1], 'float32'), /file ends before the tensor's byte range/],
    ['rope with an odd head dim', () => torch.applyRope(torch.ones([2, 3]), torch.ones([3]), torch.ones([3])), /last dim of x must be even/],
    ['a gradient of another shape', () => { torch.ones([2], { requiresGrad: true }).grad = torch.ones([3]); }, /assigned grad has shape \[3\].*tensor has shape \[2\]/],
    ['a gradient of another dtype', () => { torch.ones([2], { requiresGrad: true }).grad = torch.ones([2], { dtype: 'float64' }); }, /dtype float64/],
    ['sdpa on 1-d inputs', () => torch.scaledDotProductAttention(torch.ones([2]), torch.ones([2]), torch.ones([2])), /Dimension out of range/],
    ['permute with a repeated dim', () => t.permute(0, 0), /duplicate dims/],
    ['multinomial of integers', () => torch.tensor([1, 2]).multinomial(1), /floating-point/],
    ['unknown reduction', () => N.nllLoss(t.handle, torch.tensor([0, 1]).handle, null, 'avg', -100), /reduction must be/],
  ];
  for (const [what, fn, re] of cases) {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof Error, `${what}: not an Error`);
      assert.match(e.message, re, what);
      return true;
    }, `${what}: should throw`);
  }
}));
