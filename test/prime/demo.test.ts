/** The embedded default end to end, shortened (`prime demo --quick`): every stage runs and reports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDemo, carryBreakdown } from '../../src/prime/demo/run.js';

test('prime demo --quick: SFT start, PRIME and RLOO, held-out evaluations, report with the PRM metrics', { timeout: 900_000 }, async () => {
  const cwd = process.cwd();
  process.chdir(fs.mkdtempSync(path.join(os.tmpdir(), 'prime-demo-')));
  try {
    const lines: string[] = [];
    const r = await runDemo({ quick: true, log: (l) => lines.push(l) });
    for (const x of [r.before, r.after, r.rloo!]) assert.ok(x.avgAtK >= 0 && x.avgAtK <= 1 && x.prompts === 40);
    const md = fs.readFileSync('runs/demo-quick/report.md', 'utf8');
    for (const want of ['RLOO (outcome only)', 'held-out probe', 'Steps that need a carry']) assert.ok(md.includes(want), `report lacks '${want}'`);
    assert.ok(fs.readFileSync('runs/demo-quick/report.svg', 'utf8').startsWith('<svg'));
    assert.ok(lines.some((l) => l.includes('[prime]') && l.includes('prm_acc')), 'PRIME progress lines show the PRM accuracy');
    // the quick SFT start is too weak to write reliable steps: the breakdown must only be well-formed
    const cb = carryBreakdown(r.before);
    assert.ok(Number.isInteger(cb.carrySteps) && Number.isInteger(cb.otherSteps));
  } finally {
    process.chdir(cwd);
  }
});

test('carryBreakdown counts carry steps written right and wrong (hand-made samples)', () => {
  const r = { prompts: 1, avgAtK: 0, majAtK: 0, passAtK: 0, meanLength: 0, samples: [
    { prompt: 0, score: 0, text: '9+5=4\n4-2=2\n\\boxed{2}' }, // carry dropped; 4−2 right
    { prompt: 0, score: 1, text: '9+5=14\n14-2=12\n\\boxed{12}' }, // both right
    { prompt: 0, score: 0, text: '3+4=8\n\\boxed{8}' }, // no carry, wrong
  ] };
  const b = carryBreakdown(r as unknown as Parameters<typeof carryBreakdown>[0]);
  assert.deepEqual(b, { carrySteps: 2, carryRight: 0.5, otherSteps: 3, otherRight: 2 / 3 });
});
