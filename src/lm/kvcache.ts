/**
 * The key/value cache of incremental decoding.
 *
 * Rows are left-padded sequences that share one time axis: position `length` is the next slot
 * for every row. Two layouts, chosen by `mode`:
 * - 'prealloc' (default): per layer one (B, Hkv, Tmax, Dh) buffer for keys and one for values,
 *   written in place (`narrowCopy_`); attention reads the (B, Hkv, length, Dh) prefix view.
 *   Each step copies only the new keys.
 * - 'cat': the cache grows by concatenation each step (what eager PyTorch loops do); each step
 *   copies the whole cache. Kept for measurement (bench/lm.ts).
 * Tensors here are owned by the cache (kept out of tidy scopes); `dispose()` frees them.
 */
import * as torch from '../torch/index.js';
import { type DType, type Device, type Tensor, keep } from '../torch/index.js';
import type { LMConfig } from './config.js';

export type KVCacheMode = 'prealloc' | 'cat';

export class KVCache {
  /** Per layer: keys and values, (B, Hkv, Tmax, Dh) in 'prealloc' mode, (B, Hkv, length, Dh) in 'cat'. */
  readonly keys: (Tensor | null)[];
  readonly values: (Tensor | null)[];
  /** Filled time steps (the same for every row). */
  length = 0;
  #rows: number;

  /** device: where the model runs ('cpu', 'cuda:N'); the buffers are allocated there. */
  constructor(readonly config: LMConfig, rows: number, readonly maxLength: number, readonly dtype: DType, readonly mode: KVCacheMode = 'prealloc', readonly device: Device = 'cpu') {
    const shape = [rows, config.numKvHeads, maxLength, config.headDim];
    this.#rows = rows;
    this.keys = Array.from({ length: config.numLayers }, () => (mode === 'prealloc' ? keep(torch.empty(shape, { dtype, device })) : null));
    this.values = Array.from({ length: config.numLayers }, () => (mode === 'prealloc' ? keep(torch.empty(shape, { dtype, device })) : null));
  }

  get rows(): number {
    return this.#rows;
  }

  /**
   * Stores layer `layer`'s new keys/values k, v (B, Hkv, T, Dh) at time `length` and returns the
   * full (B, Hkv, length + T, Dh) keys and values to attend over. `length` is advanced by the
   * model once every layer has written (`advance`).
   */
  append(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
    const T = k.size(2);
    if (this.length + T > this.maxLength) throw new RangeError(`KVCache: ${this.length} + ${T} steps exceed the capacity ${this.maxLength}`);
    if (this.mode === 'prealloc') {
      this.keys[layer]!.narrowCopy_(2, this.length, k);
      this.values[layer]!.narrowCopy_(2, this.length, v);
      return [this.keys[layer]!.narrow(2, 0, this.length + T), this.values[layer]!.narrow(2, 0, this.length + T)];
    }
    const [pk, pv] = [this.keys[layer], this.values[layer]];
    const nk = keep(pk ? torch.cat([pk, k], 2) : k.contiguous());
    const nv = keep(pv ? torch.cat([pv, v], 2) : v.contiguous());
    pk?.dispose();
    pv?.dispose();
    this.keys[layer] = nk;
    this.values[layer] = nv;
    return [nk, nv];
  }

  advance(steps: number): void {
    this.length += steps;
  }

  /** Keeps only the given rows (int64 indices, in the new order): finished sequences leave the batch. */
  selectRows(rows: Tensor): void {
    if (rows.device !== old0Device(this)) rows = rows.to(this.device);
    for (const list of [this.keys, this.values]) {
      for (let l = 0; l < list.length; l++) {
        const old = list[l];
        if (!old) continue;
        // only the filled prefix is copied; the capacity stays
        const sel = this.mode === 'prealloc'
          ? keep(torch.tidy(() => {
              const buf = torch.empty([rows.size(0), ...old.shape.slice(1)], { dtype: this.dtype, device: this.device });
              return buf.narrowCopy_(2, 0, old.narrow(2, 0, this.length).indexSelect(0, rows));
            }))
          : keep(old.indexSelect(0, rows));
        old.dispose();
        list[l] = sel;
      }
    }
    this.#rows = rows.size(0);
  }

  /**
   * Continuous batching ('prealloc' only): rows [0, rows) are in use and each row's sequence starts
   * at column 0. Keeps rows `keep` (int64 indices into [0, rows), in the new order) as rows
   * [0, keep.length), copying columns [0, span) only.
   */
  compactRows(keep: Tensor, rows: number, span: number): void {
    if (this.mode !== 'prealloc') throw new Error("KVCache.compactRows: needs the 'prealloc' layout");
    torch.tidy(() => {
      if (!sameDev(keep.device, this.device)) keep = keep.to(this.device);
      for (const list of [this.keys, this.values])
        for (const buf of list) buf!.narrow(0, 0, keep.size(0)).narrowCopy_(2, 0, buf!.narrow(0, 0, rows).narrow(2, 0, span).indexSelect(0, keep));
    });
  }

  /**
   * Continuous batching ('prealloc' only): copies columns [0, T) of `src`'s rows `srcRows` (int64)
   * into rows [at, at + srcRows.length) of this cache — prompts prefilled in `src` (right-padded,
   * from column 0) entering free rows.
   */
  admitRows(at: number, src: KVCache, srcRows: Tensor, T: number): void {
    if (this.mode !== 'prealloc') throw new Error("KVCache.admitRows: needs the 'prealloc' layout");
    if (at + srcRows.size(0) > this.#rows || T > this.maxLength) throw new RangeError(`KVCache.admitRows: rows [${at}, ${at + srcRows.size(0)}) × ${T} columns do not fit ${this.#rows} × ${this.maxLength}`);
    torch.tidy(() => {
      if (!sameDev(srcRows.device, this.device)) srcRows = srcRows.to(this.device);
      for (const [dst, from] of [[this.keys, src.keys], [this.values, src.values]] as const)
        for (let l = 0; l < dst.length; l++) dst[l]!.narrow(0, at, srcRows.size(0)).narrowCopy_(2, 0, from[l]!.narrow(2, 0, T).indexSelect(0, srcRows));
    });
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

const sameDev = (a: string, b: string) => (a === 'cuda' ? 'cuda:0' : a) === (b === 'cuda' ? 'cuda:0' : b);

/** The device the cache's tensors are on (its constructor's device; 'cuda' reads as 'cuda:0'). */
function old0Device(c: KVCache): string {
  return c.device === 'cuda' ? 'cuda:0' : c.device;
}
