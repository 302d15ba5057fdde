/**
 * The `device` option of prime-ts/lm: where a model's parameters, its KV cache and the sampling
 * and log-prob computations live. 'cpu' (default), 'cuda' (the current CUDA device, index 0) or
 * 'cuda:N'. Checked once, with a message that says what is missing, instead of failing deep
 * inside libtorch.
 */
import * as torch from '../torch/index.js';
import type { Device } from '../torch/index.js';

export type { Device };

/** Validates a device string and that this build and machine can run on it; returns it normalised ('cuda' → 'cuda:0'). */
export function resolveDevice(device: string | undefined | null, what = 'device'): Device {
  const d = device ?? 'cpu';
  const m = /^(cpu|cuda)(?::(\d+))?$/.exec(d);
  if (!m || (m[1] === 'cpu' && m[2] !== undefined)) throw new Error(`${what}: '${d}' is not a device (expected cpu, cuda or cuda:N)`);
  if (m[1] === 'cpu') return 'cpu';
  const v = torch.version();
  if (!v.cuda)
    throw new Error(`${what} '${d}': this native addon was built without CUDA (libtorch ${v.libtorch}, CPU-only build); build one against a CUDA libtorch (\`make build-cuda\`, or PRIME_CUDA=1 LIBTORCH=… make build) and select it with PRIME_NATIVE`);
  if (!torch.cudaAvailable()) throw new Error(`${what} '${d}': the addon has CUDA but no CUDA device is visible (driver missing, or CUDA_VISIBLE_DEVICES hides them)`);
  return `cuda:${Number(m[2] ?? 0)}`;
}

/** Normalised form of a tensor's device string, for comparisons ('cuda' → 'cuda:0'). */
export function sameDevice(a: string, b: string): boolean {
  const n = (s: string) => (s === 'cuda' ? 'cuda:0' : s);
  return n(a) === n(b);
}
