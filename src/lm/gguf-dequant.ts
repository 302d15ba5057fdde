/**
 * Dequantization of GGML tensor data (the block formats of ggml's `ggml-common.h`) to float32.
 *
 * Supported types (ggml type id → layout; QK = 32 values per block, little-endian):
 *   F32  (0)   4 bytes per value
 *   F16  (1)   IEEE half per value
 *   Q4_0 (2)   18-byte block: d (f16), qs[16];  x[j] = ((qs[j] & 15) − 8)·d, x[j+16] = ((qs[j] >> 4) − 8)·d
 *   Q4_1 (3)   20-byte block: d (f16), m (f16), qs[16];  x[j] = (qs[j] & 15)·d + m, x[j+16] = (qs[j] >> 4)·d + m
 *   Q8_0 (8)   34-byte block: d (f16), qs[32] (int8);  x[j] = qs[j]·d
 *   BF16 (30)  bfloat16 per value (the high half of a float32)
 * Every product q·d is exact in float32 (11-bit mantissa × ≤ 8-bit integer) and the Q4_1 sum is
 * rounded once to float32, as ggml's reference `dequantize_row_*` computes in float.
 */

export interface GgmlType {
  /** ggml's name, as llama.cpp and the `gguf` Python package print it. */
  name: string;
  /** Values per block. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
  /** Decodes `n` values (a multiple of blockSize) from `src` into `dst`. */
  dequantize(src: Uint8Array, dst: Float32Array): void;
}

let halfTable: Float32Array | null = null;
/** float32 values of all 65536 IEEE binary16 bit patterns. */
function halves(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    t[h] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity) : s * (1024 + f) * 2 ** (e - 25);
  }
  return (halfTable = t);
}

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);

export const GGML_TYPES: ReadonlyMap<number, GgmlType> = new Map<number, GgmlType>([
  [0, {
    name: 'F32', blockSize: 1, typeSize: 4,
    dequantize(src, dst) {
      dst.set(new Float32Array(src.buffer.slice(src.byteOffset, src.byteOffset + dst.length * 4)));
    },
  }],
  [1, {
    name: 'F16', blockSize: 1, typeSize: 2,
    dequantize(src, dst) {
      const h = halves();
      for (let i = 0; i < dst.length; i++) dst[i] = h[u16(src, 2 * i)]!;
    },
  }],
  [30, {
    name: 'BF16', blockSize: 1, typeSize: 2,
    dequantize(src, dst) {
      const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
      for (let i = 0; i < dst.length; i++) bits[i] = u16(src, 2 * i) << 16 >>> 0;
    },
  }],
  [8, {
    name: 'Q8_0', blockSize: 32, typeSize: 34,
    dequantize(src, dst) {
      const h = halves();
      for (let b = 0, o = 0; o < dst.length; b += 34, o += 32) {
        const d = h[u16(src, b)]!;
        for (let j = 0; j < 32; j++) dst[o + j] = ((src[b + 2 + j]! << 24) >> 24) * d;
      }
    },
  }],
  [2, {
    name: 'Q4_0', blockSize: 32, typeSize: 18,
    dequantize(src, dst) {
      const h = halves();
      for (let b = 0, o = 0; o < dst.length; b += 18, o += 32) {
        const d = h[u16(src, b)]!;
        for (let j = 0; j < 16; j++) {
          const q = src[b + 2 + j]!;
          dst[o + j] = ((q & 15) - 8) * d;
          dst[o + j + 16] = ((q >> 4) - 8) * d;
        }
      }
    },
  }],
  [3, {
    name: 'Q4_1', blockSize: 32, typeSize: 20,
    dequantize(src, dst) {
      const h = halves();
      for (let b = 0, o = 0; o < dst.length; b += 20, o += 32) {
        const d = h[u16(src, b)]!, m = h[u16(src, b + 2)]!;
        for (let j = 0; j < 16; j++) {
          const q = src[b + 4 + j]!;
          dst[o + j] = (q & 15) * d + m;
          dst[o + j + 16] = (q >> 4) * d + m;
        }
      }
    },
  }],
]);

/** ggml's names of the types this module does not dequantize (for error messages). */
export const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S',
  20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64',
  29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};

export const ggmlTypeName = (t: number): string => GGML_TYPE_NAMES[t] ?? `type ${t}`;
