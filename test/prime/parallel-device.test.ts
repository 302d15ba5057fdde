/**
 * Data parallelism on GPUs: which c10d backend a job gets (trainer.dist_backend), which GPU each
 * rank's models go to, and — with a GPU (bench/device-check.sh) — NCCL collectives on CUDA tensors
 * and Gloo's host-staged collectives on CUDA tensors, in a one-rank group in this process. (Two
 * ranks on one GPU with Gloo: test/prime/distributed.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { gpuSkip } from '../torch/gpu.js';
import { chooseBackend, rankDevice } from '../../src/prime/trainer/parallel.js';
import { configFromObject } from '../../src/prime/config.js';

const dist = torch.distributed;
const noGpu = gpuSkip;

test('trainer.dist_backend: auto picks nccl for GPU models when the addon has it, gloo otherwise; nccl is refused where it cannot work', () => {
  assert.equal(chooseBackend('auto', 'cpu', ['gloo', 'nccl']), 'gloo');
  assert.equal(chooseBackend('auto', 'cuda:1', ['gloo', 'nccl']), 'nccl');
  assert.equal(chooseBackend('auto', 'cuda:0', ['gloo']), 'gloo');
  assert.equal(chooseBackend('gloo', 'cuda:0', ['gloo', 'nccl']), 'gloo');
  assert.equal(chooseBackend('nccl', 'cuda:0', ['gloo', 'nccl']), 'nccl');
  assert.throws(() => chooseBackend('nccl', 'cuda:0', ['gloo']), /trainer\.dist_backend: nccl is not available in this addon \(it has gloo/);
  assert.throws(() => chooseBackend('nccl', 'cpu', ['gloo', 'nccl']), /nccl needs model\.device on a GPU, got 'cpu'/);
  assert.throws(() => configFromObject({ model: { path: 'm' }, data: { train_files: ['x'] }, trainer: { dist_backend: 'mpi' } } as never), /trainer\.dist_backend/);
  assert.equal(configFromObject({ model: { path: 'm' }, data: { train_files: ['x'] } } as never).trainer.dist_backend, 'auto');
});

test('rankDevice: a bare cuda in a job of several ranks is cuda:LOCAL_RANK; an explicit device or a single process is kept', () => {
  assert.equal(rankDevice('cuda', 3, 4), 'cuda:3');
  assert.equal(rankDevice('cuda', 0, 1), 'cuda');
  assert.equal(rankDevice('cuda:0', 1, 2), 'cuda:0');
  assert.equal(rankDevice('cpu', 1, 2), 'cpu');
});

test('one-rank groups on the GPU: NCCL reduces CUDA tensors in place and refuses CPU ones; Gloo stages CUDA tensors through the host', { skip: noGpu }, async () => {
  const DEV = 'cuda:0' as const;
  if (!dist.availableBackends().includes('nccl')) throw new Error(`this CUDA build has no NCCL (backends: ${dist.availableBackends().join(', ')}): build with the CUDA toolkit's headers`);
  for (const backend of ['nccl', 'gloo'] as const) {
    dist.initProcessGroup({ backend, rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: await dist.freePort(), timeoutMs: 30_000 });
    try {
      torch.tidy(() => {
        const x = torch.tensor([1.5, -2, 3]).to(DEV);
        const before = x.clone();
        dist.allReduce(x, 'sum');
        assert.ok(x.device.startsWith('cuda'), `${backend}: result stays on the GPU`);
        assert.deepEqual(x.to('cpu').toFlatArray(), before.to('cpu').toFlatArray());
        const g = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32' }).to(DEV);
        const bucket = dist.allReduceBucketed([g, torch.ones([5]).to(DEV)], { op: 'sum' });
        assert.ok(bucket.bytes > 0);
        dist.broadcast(g, 0);
        const all = dist.allGather(g);
        assert.equal(all.length, 1);
        assert.ok(all[0]!.device.startsWith('cuda'), `${backend}: allGather returns GPU tensors`);
        assert.deepEqual(all[0]!.to('cpu').toFlatArray(), [1, 2, 3, 4]);
        dist.barrier();
        if (backend === 'nccl') assert.throws(() => dist.allReduce(torch.ones([2]), 'sum'), /nccl backend takes CUDA tensors, got one on cpu/);
      });
      console.log(`${backend}: allReduce, bucketed allReduce, broadcast, allGather and barrier on CUDA tensors in a 1-rank group`);
    } finally {
      dist.destroyProcessGroup();
    }
  }
});
