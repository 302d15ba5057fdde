/**
 * `prime convert gsm8k|math500 IN OUT`: a public math set → Eurus-2 rows (math-sets.ts).
 * `prime convert gguf FILE DIR [--dtype float32|bfloat16]`: a GGUF model file (llama.cpp,
 * node-llama-cpp downloads) → a Hugging Face checkpoint directory that `prime train|sft|eval`
 * load (see prime-ts/lm's gguf.ts). After writing, the directory is loaded back with
 * `loadPretrained` as a check.
 */
import { convertGguf, loadPretrained, countParameters } from '../lm/index.js';
import { convertMathSet, MATH_SETS, type MathSet } from './math-sets.js';

export const CONVERT_USAGE = `prime convert gguf FILE.gguf OUT_DIR [--dtype float32|bfloat16]
  prime convert gsm8k|math500 IN.jsonl OUT.jsonl    a public math set → Eurus-2 prompt rows`;

/** Runs `prime convert …` (args after `convert`); returns the exit code. */
export async function runConvert(positional: string[], flags: Record<string, unknown>): Promise<number> {
  const [format, file, outDir] = positional;
  if ((MATH_SETS as readonly string[]).includes(format ?? '') && file && outDir) {
    const n = await convertMathSet(format as MathSet, file, outDir);
    console.log(`prime convert: ${file} → ${outDir}: ${n} ${format} rows`);
    return 0;
  }
  if (format !== 'gguf' || !file || !outDir) {
    console.error(`usage: ${CONVERT_USAGE}`);
    return 2;
  }
  const dtype = (flags.dtype ?? 'float32') as string;
  if (dtype !== 'float32' && dtype !== 'bfloat16') {
    console.error(`prime convert: --dtype must be float32 or bfloat16, got '${dtype}'`);
    return 2;
  }
  const t0 = performance.now();
  const r = await convertGguf(file, outDir, { dtype });
  const types = Object.entries(r.tensorTypes).map(([k, v]) => `${v} ${k}`).join(', ');
  const pre = loadPretrained(outDir, { dtype: 'float32' });
  try {
    const n = countParameters(pre.model.config);
    console.log(`prime convert: ${file} → ${outDir}: ${r.config.model_type}, ${(n / 1e6).toFixed(1)}M parameters (tensors: ${types}), ` +
      `tokenizer ${pre.tokenizer ? `${pre.tokenizer.vocabSize} tokens${pre.tokenizer.chatTemplate ? ', chat template' : ''}` : 'none'}; ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    pre.model.dispose();
  }
  return 0;
}
