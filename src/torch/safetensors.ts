/**
 * safetensors (https://github.com/huggingface/safetensors format): an 8-byte little-endian
 * header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__}`,
 * then the raw little-endian tensor bytes; offsets are relative to the end of the header.
 *
 * Reading goes tensor by tensor straight into tensor storage (no second copy of the file);
 * writing goes to a temporary file that is renamed into place, so a crash never leaves a
 * half-written file under the final name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { N } from './native.js';
import { Tensor, wrap, DTYPE_BYTES, type DType } from './tensor.js';

const ST_TO_DTYPE: Record<string, DType> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16',
  I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const DTYPE_TO_ST: Record<DType, string> = Object.fromEntries(Object.entries(ST_TO_DTYPE).map(([k, v]) => [v, k])) as Record<DType, string>;

export interface SafetensorsEntry { dtype: DType; shape: number[]; begin: number; end: number }
export interface SafetensorsHeader {
  file: string;
  /** Byte offset of the data section in the file. */
  dataStart: number;
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** An error about a safetensors file; the message names the file and, where known, the tensor. */
export class SafetensorsError extends Error {
  constructor(readonly file: string, message: string, readonly tensor?: string) {
    super(`${file}${tensor ? ` (tensor '${tensor}')` : ''}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/**
 * The format's layout rule (as the reference implementation enforces it): sorted by offset, the
 * tensors' byte ranges tile the data section exactly — no overlap (aliased weights), no gap, no
 * trailing bytes. Errors name the file and both tensors concerned.
 */
function checkLayout(file: string, tensors: Map<string, SafetensorsEntry>, dataSize: number): void {
  const sorted = [...tensors.entries()].sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let prev: string | undefined;
  for (const [name, e] of sorted) {
    if (e.begin < expected)
      throw new SafetensorsError(file, `byte range [${e.begin}, ${e.end}) overlaps tensor '${prev}' (which ends at ${expected})`, name);
    if (e.begin > expected)
      throw new SafetensorsError(file, `byte range [${e.begin}, ${e.end}) leaves a gap of ${e.begin - expected} bytes after ${prev === undefined ? 'the header' : `tensor '${prev}'`}`, name);
    expected = e.end;
    prev = name;
  }
  if (expected !== dataSize)
    throw new SafetensorsError(file, `the tensors cover ${expected} of the ${dataSize} data bytes (${dataSize - expected} trailing bytes after ${prev === undefined ? 'the header' : `tensor '${prev}'`})`);
}

/** Reads and validates the header (dtypes, shapes, byte ranges against the file size and each other). */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8) throw new SafetensorsError(file, `file is ${size} bytes, too short for a safetensors header`);
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(size - 8) || n > 100_000_000n)
      throw new SafetensorsError(file, `header length ${n} exceeds the file (${size} bytes): truncated or not a safetensors file`);
    const hb = Buffer.alloc(Number(n));
    fs.readSync(fd, hb, 0, hb.length, 8);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(hb.toString('utf8'));
    } catch (e) {
      throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SafetensorsError(file, 'header is not a JSON object');
    const dataStart = 8 + Number(n);
    const dataSize = size - dataStart;
    const tensors = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, v] of Object.entries(json)) {
      if (name === '__metadata__') {
        metadata = (v ?? {}) as Record<string, string>;
        continue;
      }
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const dtype = ST_TO_DTYPE[String(e?.dtype)];
      if (!dtype) throw new SafetensorsError(file, `unsupported dtype '${String(e?.dtype)}'`, name);
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0))
        throw new SafetensorsError(file, `bad shape ${JSON.stringify(e.shape)}`, name);
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isInteger(x) && x >= 0))
        throw new SafetensorsError(file, `bad data_offsets ${JSON.stringify(off)}`, name);
      const [begin, end] = off as [number, number];
      const want = (e.shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
      if (end < begin || end - begin !== want)
        throw new SafetensorsError(file, `byte range [${begin}, ${end}) holds ${end - begin} bytes but ${dtype}[${e.shape}] needs ${want}`, name);
      if (end > dataSize)
        throw new SafetensorsError(file, `byte range [${begin}, ${end}) runs past the end of the data (${dataSize} bytes): file truncated?`, name);
      tensors.set(name, { dtype, shape: e.shape as number[], begin, end });
    }
    checkLayout(file, tensors, dataSize);
    return { file, dataStart, tensors, metadata };
  } finally {
    fs.closeSync(fd);
  }
}

/** Loads tensors (all, or those named) from one safetensors file. */
export function loadSafetensors(file: string, opts: { names?: Iterable<string> } = {}): Map<string, Tensor> {
  const hdr = readSafetensorsHeader(file);
  const names = opts.names ? [...opts.names] : [...hdr.tensors.keys()];
  const out = new Map<string, Tensor>();
  try {
    for (const name of names) {
      const e = hdr.tensors.get(name);
      if (!e) throw new SafetensorsError(file, 'no such tensor in the file', name);
      try {
        out.set(name, wrap(N.readTensor(file, hdr.dataStart + e.begin, e.end - e.begin, e.shape, e.dtype)));
      } catch (err) {
        throw err instanceof SafetensorsError ? err : new SafetensorsError(file, (err as Error).message, name);
      }
    }
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return out;
}

/** Writes an fsync'ed temporary file next to `file`, then renames it into place. */
export function atomicWrite(file: string, write: (fd: number) => void): void {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    write(fd);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

/** Saves tensors to one safetensors file, atomically. Names are written in sorted order. */
export function saveSafetensors(file: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata: Record<string, string> = {}): void {
  const entries = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const n = t.numel * DTYPE_BYTES[t.dtype];
    header[name] = { dtype: DTYPE_TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let hjson = JSON.stringify(header);
  hjson += ' '.repeat((8 - (Buffer.byteLength(hjson) % 8)) % 8); // align the data section to 8 bytes
  const hbuf = Buffer.from(hjson, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(hbuf.length));
  atomicWrite(file, (fd) => {
    fs.writeSync(fd, lenBuf);
    fs.writeSync(fd, hbuf);
    for (const [, t] of entries) {
      const bytes = t.bytes();
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
    }
  });
}

export const INDEX_FILE = 'model.safetensors.index.json';

/**
 * Loads every tensor of a checkpoint directory: `model.safetensors`, or the shards listed by
 * `model.safetensors.index.json` (its `weight_map`: tensor name → shard file).
 */
export function loadSafetensorsDir(dir: string): Map<string, Tensor> {
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, INDEX_FILE);
  if (fs.existsSync(single)) return loadSafetensors(single);
  if (!fs.existsSync(index)) throw new Error(`${dir}: neither model.safetensors nor ${INDEX_FILE} found`);
  let map: Record<string, string>;
  try {
    map = JSON.parse(fs.readFileSync(index, 'utf8')).weight_map;
  } catch (e) {
    throw new Error(`${index}: not valid JSON (${(e as Error).message})`);
  }
  if (!map || typeof map !== 'object') throw new Error(`${index}: no 'weight_map' object`);
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(map)) byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
  const out = new Map<string, Tensor>();
  try {
    for (const [shard, names] of byShard) {
      const shardPath = path.join(dir, shard);
      if (!fs.existsSync(shardPath)) throw new Error(`${index}: shard '${shard}' (holding '${names[0]}') does not exist`);
      for (const [k, v] of loadSafetensors(shardPath, { names })) out.set(k, v);
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

/**
 * Saves tensors as `model.safetensors`, or, when they exceed `maxShardBytes`, as
 * `model-0000i-of-0000n.safetensors` shards plus `model.safetensors.index.json`.
 */
export function saveSafetensorsDir(dir: string, tensors: Map<string, Tensor>, opts: { maxShardBytes?: number; metadata?: Record<string, string> } = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  const max = opts.maxShardBytes ?? 5 * 2 ** 30;
  const metadata = { format: 'pt', ...(opts.metadata ?? {}) };
  const names = [...tensors.keys()].sort();
  const shards: string[][] = [[]];
  let cur = 0, total = 0;
  for (const n of names) {
    const t = tensors.get(n)!;
    const b = t.numel * DTYPE_BYTES[t.dtype];
    total += b;
    if (cur > 0 && cur + b > max) {
      shards.push([]);
      cur = 0;
    }
    shards[shards.length - 1]!.push(n);
    cur += b;
  }
  for (const stale of fs.readdirSync(dir).filter((f) => /^model(-\d+-of-\d+)?\.safetensors$/.test(f) || f === INDEX_FILE))
    fs.rmSync(path.join(dir, stale));
  if (shards.length === 1) {
    saveSafetensors(path.join(dir, 'model.safetensors'), tensors, metadata);
    return;
  }
  const pad = (i: number) => String(i).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  shards.forEach((ns, i) => {
    const fname = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    saveSafetensors(path.join(dir, fname), new Map(ns.map((n) => [n, tensors.get(n)!])), metadata);
    for (const n of ns) weightMap[n] = fname;
  });
  const idx = JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2);
  atomicWrite(path.join(dir, INDEX_FILE), (fd) => fs.writeSync(fd, idx));
}
