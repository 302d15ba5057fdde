import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32c, maskedCrc32c, EventFileWriter } from '../../src/prime/tensorboard.js';
import { MetricsLog } from '../../src/prime/metrics.js';

const PY = process.env.PRIME_PYTHON ?? path.resolve('.venv/bin/python');

function python(code: string, args: string[] = []): string {
  const p = spawnSync(PY, ['-c', code, ...args], { encoding: 'utf8' });
  if (p.error) throw new Error(`${PY}: ${p.error.message} (set PRIME_PYTHON to a Python with the tensorboard package: make venv)`);
  assert.equal(p.status, 0, `python failed (needs the tensorboard package: make venv):\n${p.stderr}`);
  return p.stdout;
}

test('CRC32C: check value and masked CRCs against tensorboard\'s own', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283); // the standard CRC-32C check value
  const inputs = ['', 'a', '123456789', 'brain.Event:2', 'x'.repeat(1000)];
  const ours = inputs.map((s) => maskedCrc32c(Buffer.from(s)));
  const theirs = JSON.parse(python(
    'import sys, json\nfrom tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c\n' +
    'print(json.dumps([masked_crc32c(s.encode()) for s in json.loads(sys.argv[1])]))', [JSON.stringify(inputs)]));
  assert.deepEqual(ours, theirs);
});

test('TensorBoard\'s EventAccumulator reads the scalars MetricsLog writes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-tb-'));
  try {
    const log = new MetricsLog(dir);
    const written: Record<string, [number, number][]> = {};
    for (let step = 1; step <= 5; step++) {
      const m = { 'rollout/accuracy': step / 10, 'actor/pg_loss': -0.01 * step * step, 'val/accuracy': step % 2 ? 0.25 * step : NaN };
      log.write(step, m);
      for (const [k, v] of Object.entries(m)) if (Number.isFinite(v)) (written[k] ??= []).push([step, v]);
    }
    assert.ok(fs.existsSync(path.join(dir, 'metrics.jsonl')));
    assert.ok(path.basename(log.tensorboard!.file).startsWith('events.out.tfevents.'));
    const read = JSON.parse(python(
      'import sys, json\nfrom tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n' +
      'ea = EventAccumulator(sys.argv[1]); ea.Reload()\n' +
      'print(json.dumps({t: [[e.step, e.value] for e in ea.Scalars(t)] for t in ea.Tags()["scalars"]}))', [dir])) as Record<string, [number, number][]>;
    assert.deepEqual(Object.keys(read).sort(), Object.keys(written).sort());
    let maxDiff = 0;
    for (const [k, pts] of Object.entries(written)) {
      assert.deepEqual(read[k]!.map(([s]) => s), pts.map(([s]) => s), k);
      pts.forEach(([, v], i) => (maxDiff = Math.max(maxDiff, Math.abs(read[k]![i]![1] - v))));
    }
    console.log(`tensorboard round trip: max |read - written| = ${maxDiff.toExponential(2)} (float32 simple_value)`);
    assert.ok(maxDiff < 1e-6);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a resumed run\'s event file makes TensorBoard drop the redone steps', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-tb-'));
  try {
    let t = 1000;
    const a = new EventFileWriter(dir, { now: () => t++ });
    for (let s = 1; s <= 4; s++) a.addScalars(s, { loss: s });
    // resumed from the checkpoint at step 2: steps 3.. are redone with other values
    const b = new EventFileWriter(dir, { now: () => t++, restartAtStep: 3 });
    for (let s = 3; s <= 5; s++) b.addScalars(s, { loss: 10 * s });
    assert.notEqual(a.file, b.file);
    const read = JSON.parse(python(
      'import sys, json\nfrom tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n' +
      'ea = EventAccumulator(sys.argv[1]); ea.Reload()\nprint(json.dumps([[e.step, e.value] for e in ea.Scalars("loss")]))', [dir]));
    assert.deepEqual(read, [[1, 1], [2, 2], [3, 30], [4, 40], [5, 50]]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a fresh run in a directory with an earlier run keeps that run in metrics.jsonl.N and logs its own steps alone', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-metrics-fresh-'));
  try {
    const steps = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number; x: number }));
    const a = new MetricsLog(dir, { tensorboard: false });
    a.write(1, { x: 1 });
    a.write(2, { x: 2 });
    const b = new MetricsLog(dir, { tensorboard: false }); // a fresh run, same directory
    b.write(1, { x: 10 });
    assert.deepEqual(steps(path.join(dir, 'metrics.jsonl')), [{ step: 1, x: 10 }]);
    assert.deepEqual(steps(path.join(dir, 'metrics.jsonl.1')), [{ step: 1, x: 1 }, { step: 2, x: 2 }]);
    const c = new MetricsLog(dir, { tensorboard: false });
    c.write(1, { x: 100 });
    assert.deepEqual(steps(path.join(dir, 'metrics.jsonl.2')), [{ step: 1, x: 10 }], 'the next free N');
    const r = new MetricsLog(dir, { tensorboard: false, resumeFromStep: 1 }); // a resume keeps its own file
    r.write(2, { x: 200 });
    assert.deepEqual(steps(path.join(dir, 'metrics.jsonl')), [{ step: 1, x: 100 }, { step: 2, x: 200 }]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
