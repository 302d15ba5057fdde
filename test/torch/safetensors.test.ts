/**
 * safetensors: byte-exact round trips of every dtype (special values included), agreement with
 * the format as an independent reader/writer sees it (plain Python struct/json in a subprocess,
 * /usr/bin/python3, no torch needed), sharded checkpoints with model.safetensors.index.json,
 * and corrupt files whose errors name the file and the tensor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as torch from '../../src/torch/index.js';
import { SafetensorsError, type DType, type Tensor } from '../../src/torch/index.js';
import { noLeak } from './helpers.js';

const PY = '/usr/bin/python3';
const hasPython = fs.existsSync(PY);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-st-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const file = (name: string) => path.join(tmp, name);

/** One tensor per dtype, with the values that break careless codecs. */
function samples(): Map<string, Tensor> {
  return new Map<string, Tensor>([
    ['f32', torch.tensor([[0, -0.5, 3.25e38], [NaN, Infinity, -Infinity]], { dtype: 'float32' })],
    ['f64', torch.tensor([Math.PI, -1e-300, 1.7e308], { dtype: 'float64' })],
    ['f16', torch.tensor([1.5, -65504, 6e-8, NaN], { dtype: 'float16' })],
    ['bf16', torch.tensor([1.5, -2, 3e38, -Infinity], { dtype: 'bfloat16' })],
    ['i64', torch.tensor(new BigInt64Array([9007199254740993n, -9223372036854775808n, 9223372036854775807n]))],
    ['i32', torch.tensor(new Int32Array([-2147483648, 2147483647, 0]))],
    ['i16', torch.tensor(new Int16Array([-32768, 32767]))],
    ['i8', torch.tensor(new Int8Array([-128, 127, 0]))],
    ['u8', torch.tensor(new Uint8Array([0, 255, 7]))],
    ['bool', torch.tensor([[true, false], [false, true]])],
    ['scalar', torch.tensor(2.5, { dtype: 'float32' })],
    ['empty', torch.zeros([2, 0], { dtype: 'int32' })],
    ['a.dotted/name', torch.arange(6, undefined, 1, { dtype: 'float32' }).reshape(2, 3).t()], // non-contiguous source
  ]);
}

test('round trip of every dtype is byte-exact, shapes and dtypes kept', () => noLeak(() => {
  const src = samples();
  const f = file('all.safetensors');
  torch.saveSafetensors(f, src, { note: 'hello' });
  const hdr = torch.readSafetensorsHeader(f);
  assert.deepEqual(hdr.metadata, { note: 'hello' });
  assert.equal(hdr.dataStart % 8, 0, 'data section aligned to 8 bytes');
  const back = torch.loadSafetensors(f);
  assert.deepEqual([...back.keys()].sort(), [...src.keys()].sort());
  for (const [name, t] of src) {
    const u = back.get(name)!;
    assert.equal(u.dtype, t.dtype, `${name} dtype`);
    assert.deepEqual(u.shape, t.shape, `${name} shape`);
    assert.deepEqual(u.bytes(), t.bytes(), `${name} bytes`);
  }
  assert.deepEqual(back.get('i64')!.data(), new BigInt64Array([9007199254740993n, -9223372036854775808n, 9223372036854775807n]), 'int64 beyond 2^53 exact');
  assert.deepEqual(back.get('bool')!.toArray(), [[true, false], [false, true]]);
  // a subset by name; an unknown name is an error naming it
  assert.deepEqual([...torch.loadSafetensors(f, { names: ['u8'] }).keys()], ['u8']);
  assert.throws(() => torch.loadSafetensors(f, { names: ['u8', 'nope'] }), (e: Error) => e instanceof SafetensorsError && e.message.includes(f) && /'nope'.*no such tensor/.test(e.message));
  // an atomic write leaves no temporary files behind
  assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-')), []);
}));

/** Runs a Python snippet with argv; returns stdout. */
function python(code: string, ...args: string[]): string {
  const r = spawnSync(PY, ['-c', code, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

// An independent reader: header via struct/json, values via struct (float16 'e'; bfloat16 as
// the high half of a float32).
const PY_READ = String.raw`
import json, struct, sys
data = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', data[:8])
header = json.loads(data[8:8 + n].decode('utf-8'))
body = data[8 + n:]
fmt = {'F32': 'f', 'F64': 'd', 'F16': 'e', 'I64': 'q', 'I32': 'i', 'I16': 'h', 'I8': 'b', 'U8': 'B', 'BOOL': '?'}
size = {'F32': 4, 'F64': 8, 'F16': 2, 'BF16': 2, 'I64': 8, 'I32': 4, 'I16': 2, 'I8': 1, 'U8': 1, 'BOOL': 1}
out = {'n': n, 'size': len(data), 'metadata': header.get('__metadata__'), 'tensors': {}}
ends = []
for name, e in header.items():
    if name == '__metadata__':
        continue
    b, end = e['data_offsets']
    raw = body[b:end]
    k = len(raw) // size[e['dtype']]
    if e['dtype'] == 'BF16':
        vals = [struct.unpack('<f', b'\x00\x00' + raw[2 * i:2 * i + 2])[0] for i in range(k)]
    else:
        vals = list(struct.unpack('<%d%s' % (k, fmt[e['dtype']]), raw))
    vals = [v if v == v and v not in (float('inf'), float('-inf')) else repr(v) for v in vals]
    out['tensors'][name] = {'dtype': e['dtype'], 'shape': e['shape'], 'offsets': [b, end], 'values': vals}
    ends.append((b, end))
ends.sort()
out['contiguous'] = ends[0][0] == 0 and all(a[1] == b[0] for a, b in zip(ends, ends[1:])) and ends[-1][1] == len(body)
print(json.dumps(out))
`;

test('our files parse with a plain Python struct/json reader', { skip: !hasPython && `${PY} not found` }, () => noLeak(() => {
  const src = samples();
  const f = file('for-python.safetensors');
  torch.saveSafetensors(f, src, { format: 'pt' });
  const py = JSON.parse(python(PY_READ, f));
  assert.equal(py.size, fs.statSync(f).size);
  assert.equal((8 + py.n) % 8, 0);
  assert.deepEqual(py.metadata, { format: 'pt' });
  assert.equal(py.contiguous, true, 'data_offsets tile the data section from 0 without gaps');
  const stName: Record<DType, string> = { float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL' };
  const enc = (v: number) => (Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : v);
  for (const [name, t] of src) {
    const p = py.tensors[name];
    assert.ok(p, `${name} in the Python view`);
    assert.equal(p.dtype, stName[t.dtype], `${name} dtype string`);
    assert.deepEqual(p.shape, t.shape, `${name} shape`);
    if (t.dtype === 'int64') continue; // JSON numbers cannot hold them exactly; bytes were checked above
    const ours = t.dtype === 'bool' ? t.toFlatArray().map(Boolean) : t.toFlatArray().map(enc);
    assert.deepEqual(p.values, ours, `${name} values as Python decodes them`);
  }
}));

// An independent writer: a tiny file built by hand with struct/json (8-byte LE length, JSON
// header with offsets relative to the data section, raw little-endian data), header unpadded.
const PY_WRITE = String.raw`
import json, struct, sys
tensors = [
    ('weight', 'F32', [2, 2], struct.pack('<4f', 1.0, -2.5, 0.125, 3.0)),
    ('ids', 'I64', [3], struct.pack('<3q', 7, -1, 2**40)),
    ('mask', 'BOOL', [3], bytes([1, 0, 1])),
    ('half', 'F16', [2], struct.pack('<2e', 0.5, -1024.0)),
    ('brain', 'BF16', [2], struct.pack('<f', 1.5)[2:] + struct.pack('<f', -0.15625)[2:]),
    ('d', 'F64', [], struct.pack('<d', 2.0**-30)),
    ('i32', 'I32', [1, 2], struct.pack('<2i', -5, 6)),
    ('i16', 'I16', [2], struct.pack('<2h', -300, 300)),
    ('i8', 'I8', [2], struct.pack('<2b', -3, 4)),
    ('u8', 'U8', [2], bytes([200, 1])),
]
header, body = {'__metadata__': {'source': 'python'}}, b''
for name, dt, shape, raw in tensors:
    header[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [len(body), len(body) + len(raw)]}
    body += raw
h = json.dumps(header).encode('utf-8')
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + body)
`;

test('a file written by hand in Python loads with the right values', { skip: !hasPython && `${PY} not found` }, () => noLeak(() => {
  const f = file('from-python.safetensors');
  python(PY_WRITE, f);
  const hdr = torch.readSafetensorsHeader(f);
  assert.deepEqual(hdr.metadata, { source: 'python' });
  const t = torch.loadSafetensors(f);
  const check = (name: string, dtype: DType, shape: number[], values: unknown) => {
    const x = t.get(name)!;
    assert.equal(x.dtype, dtype, `${name} dtype`);
    assert.deepEqual(x.shape, shape, `${name} shape`);
    assert.deepEqual(x.dtype === 'int64' ? x.data() : x.toArray(), values, `${name} values`);
  };
  check('weight', 'float32', [2, 2], [[1, -2.5], [0.125, 3]]);
  check('ids', 'int64', [3], new BigInt64Array([7n, -1n, 2n ** 40n]));
  check('mask', 'bool', [3], [true, false, true]);
  check('half', 'float16', [2], [0.5, -1024]);
  check('brain', 'bfloat16', [2], [1.5, -0.15625]);
  check('d', 'float64', [], 2 ** -30);
  check('i32', 'int32', [1, 2], [[-5, 6]]);
  check('i16', 'int16', [2], [-300, 300]);
  check('i8', 'int8', [2], [-3, 4]);
  check('u8', 'uint8', [2], [200, 1]);
}));

test('sharded save/load with model.safetensors.index.json', () => noLeak(() => {
  const dir = file('sharded');
  const ts = new Map<string, Tensor>([
    ['layers.0.w', torch.full([64], 1, { dtype: 'float32' })], // 256 bytes each
    ['layers.1.w', torch.full([64], 2, { dtype: 'float32' })],
    ['layers.2.w', torch.full([64], 3, { dtype: 'float32' })],
    ['embed', torch.arange(10)], // 80 bytes
  ]);
  torch.saveSafetensorsDir(dir, ts, { maxShardBytes: 600 });
  const files = fs.readdirSync(dir).sort();
  assert.deepEqual(files, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
  const index = JSON.parse(fs.readFileSync(path.join(dir, torch.INDEX_FILE), 'utf8'));
  assert.equal(index.metadata.total_size, 3 * 256 + 80);
  assert.deepEqual(Object.keys(index.weight_map).sort(), [...ts.keys()].sort());
  for (const shard of new Set(Object.values(index.weight_map) as string[])) {
    const h = torch.readSafetensorsHeader(path.join(dir, shard));
    const bytes = [...h.tensors.values()].reduce((a, e) => a + e.end - e.begin, 0);
    assert.ok(bytes <= 600, `${shard} holds ${bytes} data bytes, more than maxShardBytes`);
    for (const name of h.tensors.keys()) assert.equal(index.weight_map[name], shard, `${name} listed in its shard`);
  }
  const back = torch.loadSafetensorsDir(dir);
  for (const [k, v] of ts) assert.ok(back.get(k)!.equal(v), `${k} round trip`);
  // saving again unsharded replaces the shards and the index
  torch.saveSafetensorsDir(dir, ts);
  assert.deepEqual(fs.readdirSync(dir), ['model.safetensors']);
  assert.ok(torch.loadSafetensorsDir(dir).get('embed')!.equal(ts.get('embed')!));
  // a missing shard names the index and the shard
  torch.saveSafetensorsDir(dir, ts, { maxShardBytes: 600 });
  fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
  assert.throws(() => torch.loadSafetensorsDir(dir), /model\.safetensors\.index\.json: shard 'model-00002-of-00002\.safetensors' \(holding '.*'\) does not exist/);
  fs.writeFileSync(path.join(dir, torch.INDEX_FILE), '{not json');
  assert.throws(() => torch.loadSafetensorsDir(dir), /index\.json: not valid JSON/);
  assert.throws(() => torch.loadSafetensorsDir(file('no-such-dir')), /neither model\.safetensors nor model\.safetensors\.index\.json found/);
}));

/** Writes a file with a given header object (or raw header text) and data bytes. */
function writeRaw(name: string, header: object | string, data: Uint8Array, lengthOverride?: bigint): string {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(h.length));
  const f = file(name);
  fs.writeFileSync(f, Buffer.concat([len, h, data]));
  return f;
}
/** Asserts a SafetensorsError whose message names the file (and the tensor when given) and matches re. */
function assertStError(fn: () => unknown, f: string, re: RegExp, tensor?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `not a SafetensorsError: ${String(e)}`);
    assert.ok(e.message.startsWith(f), `message names the file: ${e.message}`);
    if (tensor) assert.ok(e.message.includes(`tensor '${tensor}'`), `message names the tensor: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

test('corrupt files: errors name the file and the tensor', () => noLeak(() => {
  // truncated: a good file cut inside the last tensor's bytes
  const good = file('good.safetensors');
  torch.saveSafetensors(good, new Map([['a', torch.ones([4])], ['b', torch.ones([16])]]));
  const cut = file('truncated.safetensors');
  fs.writeFileSync(cut, fs.readFileSync(good).subarray(0, fs.statSync(good).size - 10));
  assertStError(() => torch.loadSafetensors(cut), cut, /runs past the end of the data.*truncated/, 'b');
  // truncated inside the header
  const cutHeader = file('cut-header.safetensors');
  fs.writeFileSync(cutHeader, fs.readFileSync(good).subarray(0, 20));
  assertStError(() => torch.loadSafetensors(cutHeader), cutHeader, /header length \d+ exceeds the file/);
  // shorter than the length field
  const tiny = file('tiny.safetensors');
  fs.writeFileSync(tiny, Buffer.from([1, 2, 3]));
  assertStError(() => torch.readSafetensorsHeader(tiny), tiny, /file is 3 bytes, too short/);
  // a header length far beyond the file (e.g. a text file)
  const badLen = writeRaw('badlen.safetensors', {}, new Uint8Array(0), 1n << 60n);
  assertStError(() => torch.loadSafetensors(badLen), badLen, /header length 1152921504606846976 exceeds the file/);
  // invalid JSON
  const badJson = writeRaw('badjson.safetensors', '{"a": {"dtype": "F32",', new Uint8Array(0));
  assertStError(() => torch.loadSafetensors(badJson), badJson, /header is not valid JSON/);
  const notObject = writeRaw('array.safetensors', '[1, 2]', new Uint8Array(0));
  assertStError(() => torch.loadSafetensors(notObject), notObject, /header is not a JSON object/);
  // a byte range of the wrong size for dtype × shape
  const wrongSize = writeRaw('wrongsize.safetensors', { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, new Uint8Array(16));
  assertStError(() => torch.loadSafetensors(wrongSize), wrongSize, /byte range \[0, 12\) holds 12 bytes but float32\[2,2\] needs 16/, 'w');
  const reversed = writeRaw('reversed.safetensors', { w: { dtype: 'U8', shape: [0], data_offsets: [4, 2] } }, new Uint8Array(8));
  assertStError(() => torch.loadSafetensors(reversed), reversed, /byte range \[4, 2\)/, 'w');
  // unknown dtype
  const badDtype = writeRaw('dtype.safetensors', { z: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1));
  assertStError(() => torch.loadSafetensors(badDtype), badDtype, /unsupported dtype 'F8_E4M3'/, 'z');
  // malformed shape and offsets
  const badShape = writeRaw('shape.safetensors', { s: { dtype: 'U8', shape: [-1], data_offsets: [0, 1] } }, new Uint8Array(1));
  assertStError(() => torch.loadSafetensors(badShape), badShape, /bad shape \[-1\]/, 's');
  const badOffsets = writeRaw('offsets.safetensors', { o: { dtype: 'U8', shape: [1], data_offsets: [0] } }, new Uint8Array(1));
  assertStError(() => torch.loadSafetensors(badOffsets), badOffsets, /bad data_offsets \[0\]/, 'o');
  // overlapping byte ranges (aliased weights), gaps, trailing bytes: the ranges must tile the data
  const overlap = writeRaw('overlap.safetensors', {
    a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
    b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
  }, new Uint8Array(16));
  assertStError(() => torch.loadSafetensors(overlap), overlap, /byte range \[8, 16\) overlaps tensor 'a'/, 'b');
  const alias = writeRaw('alias.safetensors', {
    q: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    k: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
  }, new Uint8Array(8));
  assertStError(() => torch.readSafetensorsHeader(alias), alias, /overlaps tensor '(q|k)'/);
  const gap = writeRaw('gap.safetensors', {
    a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
    b: { dtype: 'U8', shape: [4], data_offsets: [8, 12] },
  }, new Uint8Array(12));
  assertStError(() => torch.loadSafetensors(gap), gap, /leaves a gap of 4 bytes after tensor 'a'/, 'b');
  const late = writeRaw('late.safetensors', { a: { dtype: 'U8', shape: [4], data_offsets: [2, 6] } }, new Uint8Array(6));
  assertStError(() => torch.loadSafetensors(late), late, /gap of 2 bytes after the header/, 'a');
  const trailing = writeRaw('trailing.safetensors', { a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(9));
  assertStError(() => torch.loadSafetensors(trailing), trailing, /cover 4 of the 9 data bytes \(5 trailing bytes after tensor 'a'\)/);
  // zero-size tensors may share an offset
  const empty = writeRaw('empty-ok.safetensors', {
    e: { dtype: 'F32', shape: [0], data_offsets: [4, 4] },
    a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
    z: { dtype: 'F32', shape: [0, 3], data_offsets: [4, 4] },
  }, new Uint8Array(4));
  assert.equal(torch.readSafetensorsHeader(empty).tensors.size, 3);
  // a missing file is a plain ENOENT naming it
  assert.throws(() => torch.loadSafetensors(file('absent.safetensors')), /ENOENT.*absent\.safetensors/);
}));
