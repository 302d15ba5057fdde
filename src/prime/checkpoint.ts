/**
 * Atomic run checkpoints. A checkpoint is a directory `step-000010/` holding the policy and PRM
 * in Hugging Face layout, optimizer states, RNG state and a `state.json` (step, data cursor,
 * prompt buffer). It is written under a temporary name and renamed into place, then the
 * `latest` pointer file is replaced atomically: a kill -9 at any moment leaves the previous
 * checkpoint intact and `latest` naming a complete one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWrite } from '../torch/index.js';

export const checkpointName = (step: number) => `step-${String(step).padStart(6, '0')}`;

/**
 * Writes a checkpoint: `write(tmpDir)` fills a fresh temporary directory, which is then fsync'ed
 * and renamed to `<root>/step-XXXXXX`; finally `<root>/latest` is pointed at it. Older
 * checkpoints beyond `keep` are removed.
 */
export function writeCheckpoint(root: string, step: number, write: (dir: string) => void, keep = 2): string {
  fs.mkdirSync(root, { recursive: true });
  const name = checkpointName(step);
  const final = path.join(root, name);
  const tmp = path.join(root, `.${name}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  write(tmp);
  fsyncDir(tmp);
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  fsyncDir(root);
  atomicWrite(path.join(root, 'latest'), (fd) => fs.writeSync(fd, name + '\n'));
  // prune: keep the newest `keep` complete checkpoints, and drop stale temporaries
  const all = fs.readdirSync(root).filter((f) => /^step-\d+$/.test(f)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) fs.rmSync(path.join(root, old), { recursive: true, force: true });
  for (const f of fs.readdirSync(root)) if (f.startsWith('.step-') && f !== path.basename(tmp)) fs.rmSync(path.join(root, f), { recursive: true, force: true });
  return final;
}

/** The directory of the newest complete checkpoint under `root`, or null. */
export function latestCheckpoint(root: string): string | null {
  const pointer = path.join(root, 'latest');
  if (fs.existsSync(pointer)) {
    const dir = path.join(root, fs.readFileSync(pointer, 'utf8').trim());
    if (fs.existsSync(path.join(dir, 'state.json'))) return dir;
  }
  // fall back to scanning (e.g. `latest` lost): complete checkpoints have state.json
  const all = fs.existsSync(root) ? fs.readdirSync(root).filter((f) => /^step-\d+$/.test(f) && fs.existsSync(path.join(root, f, 'state.json'))).sort() : [];
  return all.length ? path.join(root, all[all.length - 1]!) : null;
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
