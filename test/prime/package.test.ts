import { test } from 'node:test';
import assert from 'node:assert/strict';

// The package's public entry points, imported by name as users do (package self-reference).
test('every subpath export resolves and exposes its main API', async () => {
  const entries: Record<string, string[]> = {
    'prime-ts': ['PrimeTrainer', 'loadConfig', 'implicitProcessReward', 'prmCrossEntropyLoss', 'getAdvantageEstimator', 'ppoClipLoss', 'filterByAccuracy', 'runSft', 'evaluateModel'],
    'prime-ts/torch': ['Tensor', 'tensor', 'tidy', 'AdamW', 'loadSafetensors', 'distributed'],
    'prime-ts/lm': ['CausalLM', 'loadPretrained', 'savePretrained', 'logprobs', 'generate', 'Tokenizer'],
    'prime-ts/verify': ['gradeMath', 'gradeCode', 'verify', 'registerVerifier'],
  };
  for (const [spec, names] of Object.entries(entries)) {
    const mod = (await import(spec)) as Record<string, unknown>;
    for (const n of names) assert.ok(mod[n] !== undefined, `${spec} exports ${n}`);
  }
});
