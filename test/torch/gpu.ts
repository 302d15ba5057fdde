/**
 * Whether this run can test on a GPU, shared by every test file with GPU tests. `skip` is false
 * with a CUDA build and a visible GPU, else the reason (what `test(…, { skip })` prints). With
 * PRIME_TEST_DEVICE=cuda[:N] (bench/device-check.sh) a missing GPU is an error at import: there the
 * GPU tests must run, not skip. `device` is that variable's device, default 'cuda'.
 * This file holds no tests.
 */
import * as torch from '../../src/torch/index.js';

const v = torch.version();
const available = v.cuda && torch.cudaAvailable();
export const gpuSkip: string | false = available ? false
  : v.cuda ? 'no CUDA device visible' : `this addon is a CPU-only build (libtorch ${v.libtorch})`;
const want = process.env.PRIME_TEST_DEVICE;
if (want?.startsWith('cuda') && gpuSkip) throw new Error(`PRIME_TEST_DEVICE=${want} but ${gpuSkip}`);
export const gpuDevice = (want?.startsWith('cuda') ? want : 'cuda') as 'cuda';
