/** The embedded default end to end, shortened (`prime demo --quick`): every stage runs and reports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDemo, carryBreakdown, DEMO_TASKS } from '../../src/prime/demo/run.js';
import { checkWorking, firstWrongStepRewards, generateSplits, USER_SUFFIX } from '../../src/prime/demo/arithmetic.js';

test('prime demo --quick: SFT start, PRIME and RLOO, held-out evaluations, report with the PRM metrics', { timeout: 900_000 }, async () => {
  const cwd = process.cwd();
  process.chdir(fs.mkdtempSync(path.join(os.tmpdir(), 'prime-demo-')));
  try {
    const lines: string[] = [];
    const r = await runDemo({ quick: true, log: (l) => lines.push(l) });
    for (const x of [r.before, r.after, r.rloo!, r.replay!]) assert.ok(x.avgAtK >= 0 && x.avgAtK <= 1 && x.prompts === 40);
    const md = fs.readFileSync('runs/demo-quick/report.md', 'utf8');
    for (const want of ['RLOO (outcome only)', 'PRIME + PRM replay', 'held-out probe', 'groups with different outcomes', 'Steps that need a carry']) assert.ok(md.includes(want), `report lacks '${want}'`);
    // the replay run trained with its options: its metrics carry the replayed passes' loss
    const replayMetrics = fs.readFileSync('runs/demo-quick/prime-replay/metrics.jsonl', 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    assert.ok(replayMetrics.slice(1).every((m) => Number.isFinite(m['prm/replay_loss'])), 'prm/replay_loss logged from the second step on');
    assert.ok(lines.some((l) => l.includes('[prime-replay]')), 'the replay run logs its progress');
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

test('checkWorking: right working, slips that cancel, a skipped step, a wrong operand (hand-made responses)', () => {
  const q = 'Compute 8+9-1+2. Answer in \\boxed{}.';
  const right = checkWorking(q, '8+9=17\n17-1=16\n16+2=18\n\\boxed{18}')!;
  assert.deepEqual(right, { steps: 3, firstWrongStep: -1, processCorrect: true });
  // the right answer through two slips: the outcome grader accepts it, the process check does not
  assert.deepEqual(checkWorking(q, '8+9=18\n18-1=17\n17+2=18\n\\boxed{18}'), { steps: 3, firstWrongStep: 0, processCorrect: false });
  assert.equal(checkWorking(q, '8+9=17\n17-1=16\n16+2=17\n\\boxed{17}')!.firstWrongStep, 2);
  assert.deepEqual(checkWorking(q, '8+9=17\n17+2=19\n\\boxed{19}'), { steps: 2, firstWrongStep: 1, processCorrect: false }, 'a skipped operand');
  assert.equal(checkWorking(q, '8+9=17\n16-1=15\n15+2=17\n\\boxed{17}')!.firstWrongStep, 1, 'not the running value');
  assert.equal(checkWorking(q, '8+9=17\n17-1=16\n16+2=18\n\\boxed{19}')!.processCorrect, false, 'a box that is not the last result');
  assert.equal(checkWorking(q, '8+9=17\n17-1=16\n\\boxed{16}')!.firstWrongStep, 2, 'an unfinished chain');
  assert.equal(checkWorking('Compute 3*4+1.', '3*4=12\n12+1=13'), null);
  // every generated worked solution (carry dropped in none) checks as right; a dropped carry is caught at its step
  const { test: probs } = generateSplits(5, 0, 200, { minOperands: 4, maxOperands: 6, maxOperand: 9, multiply: false });
  for (const p of probs) assert.equal(checkWorking(p.question, p.solution)!.processCorrect, true, p.solution);
  const { test: dropped } = generateSplits(5, 0, 200, { minOperands: 4, maxOperands: 6, maxOperand: 9, multiply: false, carryDropFraction: 1 });
  let caught = 0;
  for (const p of dropped) {
    const c = checkWorking(p.question, p.solution)!;
    const firstDrop = p.steps.findIndex((s, i) => s !== p.solution.split('\n')[i]);
    assert.equal(c.firstWrongStep, firstDrop, `${p.question}: ${p.solution}`);
    if (firstDrop >= 0) caught++;
  }
  assert.ok(caught > 50, `only ${caught} of 200 demonstrations dropped a carry`);
});

test('every embedded task: operand counts in its range, demonstrations and prompts within its token limits (char tokenizer)', () => {
  for (const [name, s] of Object.entries(DEMO_TASKS)) {
    const { train, test: held } = generateSplits(s.seed, 2000, 200, s.task);
    const ops = new Set<number>();
    let longestSolution = 0, longestPrompt = 0;
    for (const p of [...train, ...held]) {
      const n = (p.question.match(/\d+/g) ?? []).length;
      ops.add(n);
      // one token per character, plus the stop token; the prompt as the chat template renders it
      longestSolution = Math.max(longestSolution, p.solution.length + 1);
      // '<|im_start|>user\n' + content + '<|im_end|>\n<|im_start|>assistant\n': 3 special tokens + characters
      longestPrompt = Math.max(longestPrompt, 3 + 'user\n'.length + p.question.length + USER_SUFFIX.length + '\n'.length + 'assistant\n'.length);
    }
    assert.equal(Math.min(...ops), s.task.minOperands, `${name}: fewest operands`);
    assert.equal(Math.max(...ops), s.task.maxOperands, `${name}: most operands`);
    console.log(`# ${name}: operands ${[...ops].sort().join(',')}, longest demonstration ${longestSolution} tokens (limit ${s.maxResponseLength}), longest prompt ${longestPrompt} (limit 96)`);
    assert.ok(longestSolution <= s.maxResponseLength, `${name}: a demonstration of ${longestSolution} tokens exceeds max_response_length ${s.maxResponseLength}`);
    assert.ok(longestPrompt <= 96, `${name}: a prompt of ${longestPrompt} tokens exceeds max_prompt_length 96`);
  }
});

test('firstWrongStepRewards: −1 on the token of the first character that departs from the worked solution, zeros for right working (hand-made, char and multi-char pieces)', () => {
  const q = 'Compute 8+9-1+2. Answer in \\boxed{}.';
  const chars = (s: string) => [...s];
  const at = (r: number[] | null) => { assert.ok(r); assert.equal(r.filter((x) => x !== 0).length, 1); return r.indexOf(-1); };
  const right = chars('8+9=17\n17-1=16\n16+2=18\n\\boxed{18}');
  assert.deepEqual(firstWrongStepRewards(q, right), new Array(right.length).fill(0));
  assert.deepEqual(firstWrongStepRewards(q, chars(' 8+9=17\n17-1=16\n16+2=18\n\\boxed{18}')), new Array(right.length + 1).fill(0), 'process-correct in another format');
  // "17-1=15": the '5' (offset 7 + 6 = 13) is the first wrong character
  assert.equal(at(firstWrongStepRewards(q, chars('8+9=17\n17-1=15\n15+2=17\n\\boxed{17}'))), 13);
  // a dropped carry "8+9=7": the '7' at offset 4 (the solution has '1' there)
  assert.equal(at(firstWrongStepRewards(q, chars('8+9=7\n7-1=6\n6+2=8\n\\boxed{8}'))), 4);
  // the right answer through cancelling slips: blamed at the first slip ('8' of "18", offset 5)
  assert.equal(at(firstWrongStepRewards(q, chars('8+9=18\n18-1=17\n17+2=18\n\\boxed{18}'))), 5);
  // a skipped operand: "17+2" where "17-1" belongs, at offset 9
  assert.equal(at(firstWrongStepRewards(q, chars('8+9=17\n17+2=19\n\\boxed{19}'))), 9);
  // an unfinished chain boxes early: the '\\' where "16+2" belongs (offset 15)
  assert.equal(at(firstWrongStepRewards(q, chars('8+9=17\n17-1=16\n\\boxed{16}'))), 15);
  // a box other than the last result: its first wrong digit; a strict prefix (cut off): the last token
  const wrongBox = chars('8+9=17\n17-1=16\n16+2=18\n\\boxed{19}'), cut = chars('8+9=17\n17-1=16\n16+');
  assert.equal(at(firstWrongStepRewards(q, wrongBox)), wrongBox.length - 2);
  assert.equal(at(firstWrongStepRewards(q, cut)), cut.length - 1);
  // multi-character pieces: the piece holding that character; an empty last piece (a stop token) is skipped
  assert.equal(at(firstWrongStepRewards(q, ['8+9', '=17\n', '17-', '1=15', '\n15+2=17\n', '\\boxed{17}', ''])), 3);
  assert.equal(at(firstWrongStepRewards(q, ['8+9=17\n17-1=16\n16+', ''])), 0);
  assert.equal(firstWrongStepRewards('Compute 3*4+1.', chars('3*4=12')), null);
});
