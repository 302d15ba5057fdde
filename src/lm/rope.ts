/**
 * Rotary position embedding tables (Su et al. 2021, RoFormer), in the Hugging Face convention:
 *   inv_freq[i] = 1 / θ^(2i / Dh),   i = 0 … Dh/2 − 1
 *   angle(p, ·) = p · cat(inv_freq, inv_freq)          (Dh values: the two halves repeat)
 *   rope(x) = x · cos(angle) + rotate_half(x) · sin(angle),  rotate_half(x) = cat(−x₂, x₁)
 * inv_freq and the angles p · inv_freq are computed in float32 as Hugging Face and vLLM do (for
 * every model dtype), so positions rotate by exactly their angles; cos/sin are then taken in
 * float32, or in float64 for a float64 model (transformers takes them in float32 whatever the
 * dtype; the float64 parity test runs its reference with float64 cos/sin of the same angles).
 */
import * as torch from '../torch/index.js';
import { type DType, type Device, type Tensor, keep, noGrad, tidy } from '../torch/index.js';
import type { LMConfig } from './config.js';

/** inv_freq (Dh/2) with `rope_scaling` applied. */
export function inverseFrequencies(c: LMConfig, dtype: DType): Tensor {
  return tidy(() => {
    const Dh = c.headDim;
    // 1 / θ^(arange(0, Dh, 2) / Dh), computed as HF does: int64 arange → float → pow → reciprocal
    let inv = torch.pow(c.ropeTheta, torch.arange(0, Dh, 2).to(dtype).div(Dh)).reciprocal();
    const s = c.ropeScaling;
    if (s?.type === 'linear') inv = inv.div(s.factor); // positions / factor ≡ frequencies / factor
    else if (s?.type === 'llama3') {
      // Llama 3.1: keep high frequencies, divide low ones by `factor`, interpolate between.
      const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
      const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
      const wavelen = torch.div(2 * Math.PI, inv);
      const scaled = inv.div(s.factor);
      const smooth = torch.div(s.originalMaxPositionEmbeddings, wavelen).sub(s.lowFreqFactor).div(s.highFreqFactor - s.lowFreqFactor);
      const mid = scaled.mul(smooth.neg().add(1)).add(inv.mul(smooth));
      inv = torch.where(wavelen.gt(lowWavelen), scaled, torch.where(wavelen.lt(highWavelen), inv, mid));
    }
    return inv;
  });
}

/** cos/sin tables for positions 0 … n−1, grown on demand; kept (owned) tensors. */
export class RopeTable {
  #cos: Tensor | null = null;
  #sin: Tensor | null = null;
  #len = 0;
  readonly angleDtype: DType;

  constructor(readonly config: LMConfig, readonly dtype: DType, readonly device: Device = 'cpu') {
    this.angleDtype = 'float32';
  }

  #ensure(n: number): void {
    if (n <= this.#len) return;
    const len = Math.max(n, Math.min(2 * this.#len, this.config.maxPositionEmbeddings), 256);
    const [cos, sin] = noGrad(() => tidy(() => {
      const inv = inverseFrequencies(this.config, this.angleDtype); // (Dh/2)
      const freqs = torch.arange(len).to(this.angleDtype).unsqueeze(1).mul(inv.unsqueeze(0)); // (len, Dh/2)
      const emb = torch.cat([freqs, freqs], 1); // (len, Dh)
      const e = this.dtype === 'float64' ? emb.to('float64') : emb;
      const [c, s] = [e.cos().to(this.dtype), e.sin().to(this.dtype)];
      return this.device === 'cpu' ? [c, s] : [c.to(this.device), s.to(this.device)];
    }));
    this.#cos?.dispose();
    this.#sin?.dispose();
    this.#cos = keep(cos!);
    this.#sin = keep(sin!);
    this.#len = len;
  }

  /** cos, sin at the given positions: positionIds (B, T) int64 → two (B, T, Dh) tensors. */
  lookup(positionIds: Tensor, maxPosition: number): [Tensor, Tensor] {
    this.#ensure(maxPosition + 1);
    return [torch.embedding(this.#cos!, positionIds), torch.embedding(this.#sin!, positionIds)];
  }

  /** The whole cos and sin tables (n', Dh), n' ≥ n positions (owned by the table: do not dispose). */
  tables(n: number): [Tensor, Tensor] {
    this.#ensure(n);
    return [this.#cos!, this.#sin!];
  }

  dispose(): void {
    this.#cos?.dispose();
    this.#sin?.dispose();
    this.#cos = this.#sin = null;
    this.#len = 0;
  }
}
