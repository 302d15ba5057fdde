import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { loadPretrained, logprobs, packSequences } from '../../src/lm/index.js';
import { createRandomModel } from '../../src/prime/demo/model.js';

test('logprobs alsoTemperatures: each equals a separate pass at that temperature (chunked and one-piece heads)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-temps-'));
  createRandomModel(dir, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 64 }, 5);
  const m = loadPretrained(dir, { tokenizer: false }).model;
  torch.tidy(() => {
    const b = packSequences([[10, 11, 12], [13, 14]], [[20, 21, 22], [23]], 0);
    const o = { attentionMask: b.attentionMask, responseMask: b.responseMask, responseStart: b.responseStart };
    for (const [mode, run] of [['no grad, chunked head', (f: () => number) => torch.noGrad(f)], ['grad, one piece', (f: () => number) => f()]] as const) {
      const d = run(() => {
        const out = logprobs(m, b.inputIds, { ...o, temperature: 0.7, alsoTemperatures: [1, 1.3], ...(mode.startsWith('no') ? { chunkElements: 64 } : {}) });
        let worst = 0;
        for (const [k, tau] of [0.7, 1, 1.3].entries()) {
          const want = logprobs(m, b.inputIds, { ...o, temperature: tau }).logprobs;
          const got = k === 0 ? out.logprobs : out.logprobsAt![k - 1]!;
          worst = Math.max(worst, got.sub(want).abs().max().item());
        }
        return worst;
      });
      console.log(`${mode}: max diff to separate passes ${d.toExponential(2)} (tol 1e-5)`);
      assert.ok(d < 1e-5);
    }
  });
  m.dispose();
});
