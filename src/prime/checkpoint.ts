/**
 * Atomic run checkpoints. A checkpoint is a directory `step-000010/` holding the policy and PRM
 * in Hugging Face layout, optimizer states, RNG state and a `state.json` (step, data cursor,
 * prompt buffer). It is written under a temporary name, every file and directory in it is
 * fsync'ed, it is renamed into place (and the parent fsync'ed), then the `latest` pointer file
 * is replaced atomically: a kill -9 or a power loss at any moment leaves the previous checkpoint
 * intact and `latest` naming a complete one.
 *
 * Resuming: `latestLoadableCheckpoint(root)` takes the newest checkpoint whose state.json and
 * files check out (`checkCheckpoint`), and falls back to older ones with a warning naming the
 * file that failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWrite, readSafetensorsHeader } from '../torch/index.js';

export const checkpointName = (step: number) => `step-${String(step).padStart(6, '0')}`;

/** An unusable checkpoint; the message names the file. */
export class CheckpointStateError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'CheckpointStateError';
  }
}

/**
 * Writes a checkpoint: `write(tmpDir)` fills a fresh temporary directory, whose files and
 * directories are then fsync'ed before it is renamed to `<root>/step-XXXXXX`; finally
 * `<root>/latest` is pointed at it. Older checkpoints beyond `keep` are removed, and so are the
 * temporaries a killed writer left (`.step-*.tmp-*` directories, `latest.tmp-*` files).
 */
export function writeCheckpoint(root: string, step: number, write: (dir: string) => void, keep = 2): string {
  fs.mkdirSync(root, { recursive: true });
  const name = checkpointName(step);
  const final = path.join(root, name);
  const tmp = path.join(root, `.${name}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  write(tmp);
  fsyncTree(tmp);
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  fsyncDir(root);
  atomicWrite(path.join(root, 'latest'), (fd) => fs.writeSync(fd, name + '\n'));
  fsyncDir(root);
  // prune: keep the newest `keep` complete checkpoints, and drop stale temporaries
  const all = listCheckpoints(root);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) fs.rmSync(path.join(root, old), { recursive: true, force: true });
  removeStaleTemporaries(root, path.basename(tmp));
  return final;
}

/** The checkpoint directories (`step-XXXXXX`) under `root`, oldest first; [] when `root` does not exist. */
export function listCheckpoints(root: string): string[] {
  return fs.existsSync(root) ? fs.readdirSync(root).filter((f) => /^step-\d+$/.test(f)).sort() : [];
}

/** Removes what killed writers leave under `root`: `.step-*` directories and `latest.tmp-*` files. */
export function removeStaleTemporaries(root: string, except?: string): string[] {
  if (!fs.existsSync(root)) return [];
  const removed: string[] = [];
  for (const f of fs.readdirSync(root)) {
    if (f === except || !(f.startsWith('.step-') || f.startsWith('latest.tmp-'))) continue;
    fs.rmSync(path.join(root, f), { recursive: true, force: true });
    removed.push(f);
  }
  return removed;
}

/** The directory of the newest checkpoint under `root` that has a state.json, or null (no checks). */
export function latestCheckpoint(root: string): string | null {
  const pointer = path.join(root, 'latest');
  if (fs.existsSync(pointer)) {
    const dir = path.join(root, fs.readFileSync(pointer, 'utf8').trim());
    if (fs.existsSync(path.join(dir, 'state.json'))) return dir;
  }
  // fall back to scanning (e.g. `latest` lost): complete checkpoints have state.json
  const all = listCheckpoints(root).filter((f) => fs.existsSync(path.join(root, f, 'state.json')));
  return all.length ? path.join(root, all[all.length - 1]!) : null;
}

/** The fields of state.json every checkpoint has (the trainer stores more; kept as they are). */
export interface CheckpointState {
  step: number;
  dataset: { epoch: number; index: number; seed: number; size?: number };
  buffer: unknown[];
  world_size?: number;
  [key: string]: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/**
 * Reads and checks `<dir>/state.json`: valid JSON, an object with an integer `step` ≥ 0, a
 * `dataset` cursor {epoch, index, seed} and a `buffer` list. Throws CheckpointStateError naming
 * the file and what is wrong (an empty file — a write lost to a power cut — included).
 */
export function readCheckpointState(dir: string): CheckpointState {
  const file = path.join(dir, 'state.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CheckpointStateError(file, `cannot read the checkpoint state (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (text.trim() === '') throw new CheckpointStateError(file, 'the checkpoint state is empty (a write that never reached the disk?)');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CheckpointStateError(file, `the checkpoint state is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(v)) throw new CheckpointStateError(file, 'the checkpoint state is not a JSON object');
  if (!isCount(v['step'])) throw new CheckpointStateError(file, `field 'step' must be an integer ≥ 0, got ${JSON.stringify(v['step'])}`);
  const ds = v['dataset'];
  if (!isObject(ds) || !isCount(ds['epoch']) || !isCount(ds['index']) || !Number.isInteger(ds['seed']))
    throw new CheckpointStateError(file, `field 'dataset' must be a cursor {epoch, index, seed}, got ${JSON.stringify(ds)}`);
  if (!Array.isArray(v['buffer'])) throw new CheckpointStateError(file, `field 'buffer' must be a list, got ${JSON.stringify(v['buffer'])?.slice(0, 80)}`);
  if (v['world_size'] !== undefined && !(isCount(v['world_size']) && v['world_size'] > 0))
    throw new CheckpointStateError(file, `field 'world_size' must be a positive integer, got ${JSON.stringify(v['world_size'])}`);
  return v as CheckpointState;
}

/** A model directory (HF layout) must have a parseable config.json and readable safetensors headers. */
function checkModelDir(dir: string): void {
  const config = path.join(dir, 'config.json');
  try {
    JSON.parse(fs.readFileSync(config, 'utf8'));
  } catch (e) {
    throw new CheckpointStateError(config, `unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(single)) checkSafetensors(single);
  else if (fs.existsSync(index)) {
    let map: Record<string, string>;
    try {
      map = JSON.parse(fs.readFileSync(index, 'utf8')).weight_map;
    } catch (e) {
      throw new CheckpointStateError(index, `unreadable (${(e as Error).message})`);
    }
    for (const shard of new Set(Object.values(map ?? {}))) checkSafetensors(path.join(dir, shard));
  } else throw new CheckpointStateError(dir, 'no model.safetensors or model.safetensors.index.json');
}

function checkSafetensors(file: string): void {
  try {
    readSafetensorsHeader(file);
  } catch (e) {
    throw new CheckpointStateError(file, (e as Error).message.startsWith(file) ? (e as Error).message.slice(file.length + 2) : (e as Error).message);
  }
}

/**
 * Checks that checkpoint `dir` can be resumed from without reading any weights: state.json
 * (readCheckpointState), the policy and PRM model directories, the optimizer and RNG files (or,
 * for a multi-rank run, one ranks/rank-NNNNN.json per rank), each parsed as far as its header.
 * Returns the state; throws CheckpointStateError naming the first bad file.
 */
export function checkCheckpoint(dir: string): CheckpointState {
  const state = readCheckpointState(dir);
  checkModelDir(path.join(dir, 'policy'));
  checkModelDir(path.join(dir, 'prm'));
  checkSafetensors(path.join(dir, 'optim-policy.safetensors'));
  if (fs.existsSync(path.join(dir, 'optim-prm.safetensors'))) checkSafetensors(path.join(dir, 'optim-prm.safetensors'));
  const world = state.world_size ?? 1;
  if (world > 1) {
    for (let r = 0; r < world; r++) {
      const f = path.join(dir, 'ranks', `rank-${String(r).padStart(5, '0')}.json`);
      try {
        JSON.parse(fs.readFileSync(f, 'utf8'));
      } catch (e) {
        throw new CheckpointStateError(f, `unreadable rank state (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
  } else checkSafetensors(path.join(dir, 'rng.safetensors'));
  return state;
}

export interface LoadableCheckpoint {
  dir: string;
  state: CheckpointState;
  /** Newer checkpoints that were passed over, with why. */
  skipped: { dir: string; error: string }[];
}

/**
 * The newest checkpoint under `root` that passes `checkCheckpoint`: the one `latest` names
 * first, then every `step-*` directory from the newest down. Each one passed over is reported
 * through `warn` (with the file and the problem). Null when `root` holds no checkpoint at all;
 * a CheckpointStateError listing every failure when checkpoints exist but none is loadable (a
 * silent fresh start would discard the run).
 */
export function latestLoadableCheckpoint(root: string, warn: (message: string) => void = () => {}): LoadableCheckpoint | null {
  if (!fs.existsSync(root)) return null;
  const candidates: string[] = [];
  const pointer = path.join(root, 'latest');
  if (fs.existsSync(pointer)) {
    const name = fs.readFileSync(pointer, 'utf8').trim();
    if (/^step-\d+$/.test(name) && fs.existsSync(path.join(root, name))) candidates.push(name);
  }
  const steps = listCheckpoints(root).reverse();
  for (const s of steps) if (!candidates.includes(s)) candidates.push(s);
  if (candidates.length === 0) return null;
  const skipped: { dir: string; error: string }[] = [];
  for (const name of candidates) {
    const dir = path.join(root, name);
    try {
      const state = checkCheckpoint(dir);
      return { dir, state, skipped };
    } catch (e) {
      if (!(e instanceof CheckpointStateError)) throw e;
      skipped.push({ dir, error: e.message });
      warn(`checkpoint ${dir} is not loadable: ${e.message}; trying the previous one`);
    }
  }
  throw new CheckpointStateError(root, `no loadable checkpoint: ${skipped.map((s) => s.error).join('; ')}`);
}

/** fsyncs every file and directory under `dir` (depth first), then `dir` itself. */
function fsyncTree(dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) fsyncTree(p);
    else if (e.isFile()) fsyncDir(p);
  }
  fsyncDir(dir);
}

/** fsync of a file or directory, opened read-only. */
function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Checks, before any work, that a command may replace `out` (key: the config key naming it) with
 * the model it writes (`prime sft`, `prime prm-train`: written next to it, then swapped in). Allowed:
 * a path that does not exist, an empty directory, or a model directory (config.json and
 * *.safetensors, no subdirectories: an earlier output, rewritten as the command is re-run). Refused,
 * with an Error naming the key: `out` is, or contains, one of `inputs` (the checkpoints the command
 * reads: replacing them would destroy what the new model is measured against), a file, or a
 * directory holding anything else (a run, a project: never deleted by a model write).
 */
export function assertReplaceableModelDir(out: string, key: string, inputs: readonly string[]): void {
  const abs = path.resolve(out);
  for (const input of inputs) {
    if (!input) continue;
    const inp = path.resolve(input);
    if (inp === abs || inp.startsWith(abs + path.sep))
      throw new Error(`${key}=${out}: ${inp === abs ? 'is' : 'contains'} ${input}, a checkpoint this command reads; write the new model elsewhere`);
  }
  if (!fs.existsSync(abs)) return;
  const st = fs.statSync(abs);
  if (!st.isDirectory()) throw new Error(`${key}=${out}: is a file, not a model directory; choose another path`);
  const entries = fs.readdirSync(abs, { withFileTypes: true });
  if (!entries.length) return;
  const isModel = entries.some((e) => e.name === 'config.json') && entries.some((e) => e.name.endsWith('.safetensors')) && !entries.some((e) => e.isDirectory());
  if (!isModel)
    throw new Error(`${key}=${out}: the directory exists and is not a model directory (${entries.length} entries, e.g. '${entries[0]!.name}'); it would be replaced: choose a new or empty directory`);
}
