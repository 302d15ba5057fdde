/**
 * scaledDotProductAttention against a plain JS loop on small shapes: no mask, causal
 * (bottom-right aligned when Tq < Tk, as decoding with a KV cache needs), a bool mask, an
 * additive float mask, grouped-query attention (query head h reads kv head ⌊h / (H/Hkv)⌋),
 * a custom scale, a fully masked row, and shape errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { assertClose, assertThrowsMsg, f64, noLeak } from './helpers.js';

interface RefOpts { causal?: boolean; allowed?: (b: number, h: number, i: number, j: number) => boolean; add?: (b: number, h: number, i: number, j: number) => number; scale?: number }

/**
 * Reference attention. q (B,H,Tq,D), k/v (B,Hkv,Tk,D) as flat row-major arrays.
 * Query i sits at absolute position Tk − Tq + i; causal allows keys j ≤ that position.
 * A row with no allowed key gets uniform weights (the library's documented choice).
 */
function refAttention(q: number[], k: number[], v: number[], [B, H, Tq, D]: number[], [Hkv, Tk]: number[], o: RefOpts = {}): number[] {
  const scale = o.scale ?? 1 / Math.sqrt(D!);
  const G = H! / Hkv!;
  const out: number[] = [];
  for (let b = 0; b < B!; b++)
    for (let h = 0; h < H!; h++) {
      const hk = Math.floor(h / G);
      for (let i = 0; i < Tq!; i++) {
        const s: number[] = [], ok: boolean[] = [];
        for (let j = 0; j < Tk!; j++) {
          let dot = 0;
          for (let d = 0; d < D!; d++) dot += q[((b * H! + h) * Tq! + i) * D! + d]! * k[((b * Hkv! + hk) * Tk! + j) * D! + d]!;
          s.push(dot * scale + (o.add ? o.add(b, h, i, j) : 0));
          ok.push((!o.causal || j <= Tk! - Tq! + i) && (!o.allowed || o.allowed(b, h, i, j)));
        }
        const any = ok.some(Boolean);
        const mx = Math.max(...s.filter((_, j) => ok[j] || !any));
        const e = s.map((x, j) => (!any ? 1 : ok[j] ? Math.exp(x - mx) : 0));
        const z = e.reduce((a, x) => a + x, 0);
        for (let d = 0; d < D!; d++) {
          let acc = 0;
          for (let j = 0; j < Tk!; j++) acc += (e[j]! / z) * v[((b * Hkv! + hk) * Tk! + j) * D! + d]!;
          out.push(acc);
        }
      }
    }
  return out;
}

const TOL = { atol: 1e-12, rtol: 1e-10 };

test('sdpa without a mask, with a custom scale', () => noLeak(() => {
  const [B, H, T, D] = [2, 2, 3, 4];
  const q = f64([B, H, T, D], 1), k = f64([B, H, T, D], 2), v = f64([B, H, T, D], 3);
  const [qv, kv, vv] = [q, k, v].map((t) => t.toFlatArray()) as [number[], number[], number[]];
  assertClose('plain', torch.scaledDotProductAttention(q, k, v), refAttention(qv, kv, vv, [B, H, T, D], [H, T]), { ...TOL, shape: [B, H, T, D] });
  assertClose('scale 0.3', torch.scaledDotProductAttention(q, k, v, { scale: 0.3 }), refAttention(qv, kv, vv, [B, H, T, D], [H, T], { scale: 0.3 }), TOL);
  // hand-worked: one query, two keys with equal scores → the mean of the values
  const one = torch.scaledDotProductAttention(torch.zeros([1, 1, 1, 2]), torch.ones([1, 1, 2, 2]), torch.tensor([[[[1, 2], [3, 6]]]], { dtype: 'float32' }));
  assertClose('equal scores average the values', one, [[[[2, 4]]]], { atol: 1e-6 });
}));

test('sdpa causal: square, and bottom-right aligned when Tq < Tk', () => noLeak(() => {
  for (const [Tq, Tk] of [[4, 4], [2, 5], [1, 3]] as const) {
    const [B, H, D] = [1, 2, 3];
    const q = f64([B, H, Tq, D], 11), k = f64([B, H, Tk, D], 12), v = f64([B, H, Tk, D], 13);
    const [qv, kv, vv] = [q, k, v].map((t) => t.toFlatArray()) as [number[], number[], number[]];
    assertClose(`causal Tq=${Tq} Tk=${Tk}`, torch.scaledDotProductAttention(q, k, v, { isCausal: true }),
      refAttention(qv, kv, vv, [B, H, Tq, D], [H, Tk], { causal: true }), TOL);
  }
  // the first query of a square causal attention sees only key 0: output = v[0]
  const v = f64([1, 1, 3, 2], 14);
  const y = torch.scaledDotProductAttention(f64([1, 1, 3, 2], 15), f64([1, 1, 3, 2], 16), v, { isCausal: true });
  assertClose('query 0 copies value 0', y.select(2, 0), v.select(2, 0).toFlatArray(), TOL);
}));

test('sdpa with a bool mask (true = attend), combined with causal, and an additive mask', () => noLeak(() => {
  const [B, H, Tq, Tk, D] = [2, 2, 3, 4, 2];
  const q = f64([B, H, Tq, D], 21), k = f64([B, H, Tk, D], 22), v = f64([B, H, Tk, D], 23);
  const [qv, kv, vv] = [q, k, v].map((t) => t.toFlatArray()) as [number[], number[], number[]];
  // key padding mask (B, 1, 1, Tk): batch 1 has its first key padded
  const pad = [[true, true, true, true], [false, true, true, true]];
  const mask = torch.tensor(pad).reshape(B, 1, 1, Tk);
  const allowed = (b: number, _h: number, _i: number, j: number) => pad[b]![j]!;
  assertClose('bool mask', torch.scaledDotProductAttention(q, k, v, { mask }), refAttention(qv, kv, vv, [B, H, Tq, D], [H, Tk], { allowed }), TOL);
  assertClose('bool mask + causal', torch.scaledDotProductAttention(q, k, v, { mask, isCausal: true }),
    refAttention(qv, kv, vv, [B, H, Tq, D], [H, Tk], { allowed, causal: true }), TOL);
  // a full (B, H, Tq, Tk) mask
  const full = (b: number, h: number, i: number, j: number) => (b + h + i + j) % 3 !== 0;
  const fullT = torch.tensor(Array.from({ length: B }, (_, b) => Array.from({ length: H }, (_, h) => Array.from({ length: Tq }, (_, i) => Array.from({ length: Tk }, (_, j) => full(b, h, i, j))))));
  assertClose('full bool mask', torch.scaledDotProductAttention(q, k, v, { mask: fullT }), refAttention(qv, kv, vv, [B, H, Tq, D], [H, Tk], { allowed: full }), TOL);
  // additive float mask (Tq, Tk)
  const addv = (_b: number, _h: number, i: number, j: number) => 0.25 * i - 0.5 * j;
  const addT = torch.tensor(Array.from({ length: Tq }, (_, i) => Array.from({ length: Tk }, (_, j) => addv(0, 0, i, j))), { dtype: 'float64' });
  assertClose('additive mask', torch.scaledDotProductAttention(q, k, v, { mask: addT }), refAttention(qv, kv, vv, [B, H, Tq, D], [H, Tk], { add: addv }), TOL);
}));

test('sdpa: a fully masked row gives finite (uniform) weights, not NaN', () => noLeak(() => {
  const [B, H, Tq, Tk, D] = [1, 1, 2, 3, 2];
  const q = f64([B, H, Tq, D], 31), k = f64([B, H, Tk, D], 32), v = f64([B, H, Tk, D], 33);
  const mask = torch.tensor([[false, false, false], [true, false, true]]); // query 0 sees nothing
  const y = torch.scaledDotProductAttention(q, k, v, { mask });
  assert.ok(y.isfinite().all().item(), 'finite output');
  const [qv, kv, vv] = [q, k, v].map((t) => t.toFlatArray()) as [number[], number[], number[]];
  assertClose('fully masked row', y, refAttention(qv, kv, vv, [B, H, Tq, D], [H, Tk], { allowed: (_b, _h, i, j) => i === 1 && j !== 1 }), TOL);
  const yf = torch.scaledDotProductAttention(q.float(), k.float(), v.float(), { mask });
  assert.ok(yf.isfinite().all().item(), 'finite output in float32');
}));

test('sdpa grouped-query attention (H = 4 query heads over Hkv = 2), with causal', () => noLeak(() => {
  const [B, H, Hkv, Tq, Tk, D] = [2, 4, 2, 3, 3, 2];
  const q = f64([B, H, Tq, D], 41), k = f64([B, Hkv, Tk, D], 42), v = f64([B, Hkv, Tk, D], 43);
  const [qv, kv, vv] = [q, k, v].map((t) => t.toFlatArray()) as [number[], number[], number[]];
  assertClose('GQA', torch.scaledDotProductAttention(q, k, v), refAttention(qv, kv, vv, [B, H, Tq, D], [Hkv, Tk]), { ...TOL, shape: [B, H, Tq, D] });
  assertClose('GQA causal', torch.scaledDotProductAttention(q, k, v, { isCausal: true }), refAttention(qv, kv, vv, [B, H, Tq, D], [Hkv, Tk], { causal: true }), TOL);
  // equal to repeating each kv head H/Hkv times (HF's repeat_kv order)
  const rep = torch.scaledDotProductAttention(q, k.repeatInterleave(2, 1), v.repeatInterleave(2, 1));
  assertClose('GQA = repeat_kv', torch.scaledDotProductAttention(q, k, v), rep.toFlatArray(), TOL);
  // MQA: one kv head
  const k1 = f64([B, 1, Tk, D], 44), v1 = f64([B, 1, Tk, D], 45);
  assertClose('MQA', torch.scaledDotProductAttention(q, k1, v1), refAttention(qv, k1.toFlatArray(), v1.toFlatArray(), [B, H, Tq, D], [1, Tk]), TOL);
}));

test('sdpa errors', () => noLeak(() => {
  const q = torch.zeros([1, 3, 2, 4]);
  assertThrowsMsg(() => torch.scaledDotProductAttention(q, torch.zeros([1, 2, 2, 4]), torch.zeros([1, 2, 2, 4])),
    /query heads \(3\) must be a multiple of key\/value heads \(2\)/, 'heads');
  assertThrowsMsg(() => torch.scaledDotProductAttention(q, torch.zeros([1, 3, 2, 5]), torch.zeros([1, 3, 2, 5])), /cannot be multiplied|size/, 'head dim');
  assertThrowsMsg(() => torch.scaledDotProductAttention(q, q, q, { mask: torch.ones([3, 3], { dtype: 'bool' }) }), /must match the size/, 'mask shape');
}));
