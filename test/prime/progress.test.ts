import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressDisplay, formatDuration, safeProgress, type ProgressEvent } from '../../src/prime/progress.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 200, write: (s: string) => writes.push(s) } };
}

test('TTY: a bar redrawn in place with done/total, tokens/s and ETA; throttled; log lines keep the bar', () => {
  const { writes, stream } = fakeStream(true);
  let t = 0;
  const d = new ProgressDisplay({ stream, now: () => t, minIntervalMs: 100, totalSteps: 10 });
  assert.equal(d.tty, true);
  const ev = (done: number, tokens: number): ProgressEvent => ({ phase: 'rollout', step: 3, done, total: 64, tokens });
  d.onProgress(ev(0, 0));
  t = 2000;
  d.onProgress(ev(16, 1000)); // 2 s for 16 of 64: 500 tok/s, ETA 6 s
  assert.equal(writes.at(-1), '\r\x1b[2Kstep 3/10 rollout [#####---------------] 16/64 samples | 500 tok/s | ETA 6s');
  const n = writes.length;
  t = 2050;
  d.onProgress(ev(17, 1100)); // within 100 ms of the last draw: not drawn
  assert.equal(writes.length, n);
  d.log('step 2/10 | acc 0.5');
  assert.equal(writes.at(-1), '\r\x1b[2Kstep 2/10 | acc 0.5\n' + 'step 3/10 rollout [#####---------------] 16/64 samples | 500 tok/s | ETA 6s');
  t = 4000;
  d.onProgress(ev(64, 4000)); // finished: always drawn, elapsed instead of ETA
  assert.equal(writes.at(-1), '\r\x1b[2Kstep 3/10 rollout [####################] 64/64 samples | 1000 tok/s | 4.0 s');
  d.end();
  assert.equal(writes.at(-1), '\r\x1b[2K');
});

test('not a TTY: plain lines only when a phase ends (and every plainEveryMs while it runs)', () => {
  const { writes, stream } = fakeStream(false);
  let t = 0;
  const d = new ProgressDisplay({ stream, now: () => t, plainEveryMs: 30_000 });
  assert.equal(d.tty, false);
  for (let i = 0; i <= 8; i++) {
    t = i * 1000;
    d.onProgress({ phase: 'update', step: 1, done: i, total: 8 });
  }
  assert.deepEqual(writes, ['step 1 update 8/8 sequences | 8.0 s\n']);
  // a long phase: one line after 30 s
  t = 100_000;
  d.onProgress({ phase: 'rollout', step: 2, done: 0, total: 100, tokens: 0 });
  t = 131_000;
  d.onProgress({ phase: 'rollout', step: 2, done: 31, total: 100, tokens: 3100 });
  assert.equal(writes.at(-1), 'step 2 rollout 31/100 samples | 100 tok/s | ETA 1m09s\n');
  assert.ok(writes.every((w) => !w.includes('\r') && !w.includes('\x1b')), 'no control characters in plain mode');
  d.log('a line');
  assert.equal(writes.at(-1), 'a line\n');
});

test('a narrow terminal: the bar narrows, then goes, before the figures are cut', () => {
  for (const [columns, expected] of [
    [80, 'step 3 rollout [######------] 16/32 samples | 100 tok/s | ETA 2s'],
    [55, 'step 3 rollout 16/32 samples | 100 tok/s | ETA 2s'],
  ] as const) {
    const writes: string[] = [];
    let t = 0;
    const d = new ProgressDisplay({ stream: { isTTY: true, columns, write: (s: string) => writes.push(s) }, now: () => t });
    d.onProgress({ phase: 'rollout', step: 3, done: 0, total: 32, tokens: 0 });
    t = 2000;
    d.onProgress({ phase: 'rollout', step: 3, done: 16, total: 32, tokens: 200 });
    const shown = writes.at(-1)!.replace('\r\x1b[2K', '');
    assert.ok(shown.length < columns);
    if (columns === 80) assert.match(shown, /^step 3 rollout \[#+-+\] 16\/32 samples \| 100 tok\/s \| ETA 2s$/);
    else assert.equal(shown, expected);
  }
});

test('formatDuration and safeProgress', () => {
  assert.equal(formatDuration(5.4), '5s');
  assert.equal(formatDuration(65), '1m05s');
  assert.equal(formatDuration(3 * 3600 + 120), '3h02m');
  assert.equal(formatDuration(NaN), '?');
  const seen: number[] = [];
  safeProgress((e) => seen.push(e.done), 0)({ phase: 'score', step: 1, done: 3, total: 4 });
  safeProgress((e) => seen.push(e.done), 1)({ phase: 'score', step: 1, done: 9, total: 4 }); // other ranks: silent
  safeProgress(() => { throw new Error('broken terminal'); })({ phase: 'score', step: 1, done: 1, total: 4 }); // swallowed
  assert.deepEqual(seen, [3]);
});

test('TTY with log lines on another stream: the bar is cleared, the line written there, the bar redrawn', () => {
  const bar = fakeStream(true), out = fakeStream(false);
  let t = 0;
  const d = new ProgressDisplay({ stream: bar.stream, out: out.stream, now: () => t });
  d.onProgress({ phase: 'score', step: 1, done: 0, total: 8 });
  t = 500;
  d.onProgress({ phase: 'score', step: 1, done: 4, total: 8 });
  const drawn = bar.writes.at(-1)!.slice('\r\x1b[2K'.length);
  d.log('step 1/1 | acc 0.5');
  assert.deepEqual(out.writes, ['step 1/1 | acc 0.5\n']);
  assert.deepEqual(bar.writes.slice(-2), ['\r\x1b[2K', drawn]);
});
