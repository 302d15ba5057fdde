/**
 * TensorBoard event files, written here: the TFRecord container (length, masked CRC32C of the
 * length, payload, masked CRC32C of the payload; TensorFlow's `tensorflow/core/lib/io/record_writer`
 * layout) around `tensorflow.Event` protocol buffers (`tensorflow/core/util/event.proto`:
 * wall_time = 1 double, step = 2 int64, file_version = 3 string, summary = 5, session_log = 7;
 * `summary.proto`: Summary.value = 1, Value.tag = 1, Value.simple_value = 2 float).
 *
 * The file is named `events.out.tfevents.<seconds>.<host>` as TensorBoard's reader expects; its
 * first record says "brain.Event:2". Each `addScalars` call appends one Event with a Summary of
 * every scalar (one write, so a crash leaves whole records). TensorBoard reads it directly:
 * `tensorboard --logdir RUN_DIR` (test/prime/tensorboard.test.ts checks it with the tensorboard
 * package's EventAccumulator).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// ---------------------------------------------------------------------------------------------
// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of the bytes (check value: crc32c("123456789") = 0xE3069283). */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 bits, add 0xa282ead8 (mod 2^32). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: uint64 LE length, uint32 LE masked CRC of the length, data, uint32 LE masked CRC of the data. */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Protocol buffer encoding (just what Event needs)

function varint(v: bigint | number): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
function lengthDelimited(field: number, bytes: Uint8Array): number[] {
  return [...key(field, 2), ...varint(bytes.length), ...bytes];
}
function double(field: number, v: number): number[] {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return [...key(field, 1), ...b];
}
function float(field: number, v: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return [...key(field, 5), ...b];
}

/** A `tensorflow.Event` with a wall time, a step and one of its payloads. */
export function encodeEvent(e: {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars?: [string, number][];
  /** SessionLog status: 1 = START (TensorBoard then drops events of later steps from before it). */
  sessionLog?: 1 | 2 | 3;
}): Uint8Array {
  const b: number[] = [...double(1, e.wallTime), ...key(2, 0), ...varint(Math.trunc(e.step))];
  if (e.fileVersion !== undefined) b.push(...lengthDelimited(3, Buffer.from(e.fileVersion, 'utf8')));
  if (e.scalars) {
    const summary: number[] = [];
    for (const [tag, v] of e.scalars) {
      const value = [...lengthDelimited(1, Buffer.from(tag, 'utf8')), ...float(2, v)];
      summary.push(...lengthDelimited(1, Uint8Array.from(value)));
    }
    b.push(...lengthDelimited(5, Uint8Array.from(summary)));
  }
  if (e.sessionLog !== undefined) b.push(...lengthDelimited(7, Uint8Array.from([...key(1, 0), ...varint(e.sessionLog)])));
  return Uint8Array.from(b);
}

// ---------------------------------------------------------------------------------------------
// The writer

/** Appends scalar summaries to a new TensorBoard event file in `dir`. */
export class EventFileWriter {
  readonly file: string;
  constructor(dir: string, opts: { now?: () => number; restartAtStep?: number } = {}) {
    const now = opts.now ?? (() => Date.now() / 1000);
    fs.mkdirSync(dir, { recursive: true });
    const t = now();
    // unique per process and call: TensorBoard reads every events file in the directory, in name order
    let name = `events.out.tfevents.${Math.floor(t)}.${os.hostname()}.${process.pid}`;
    for (let i = 1; fs.existsSync(path.join(dir, name)); i++) name = `events.out.tfevents.${Math.floor(t)}.${os.hostname()}.${process.pid}.${i}`;
    this.file = path.join(dir, name);
    this.#now = now;
    const head = [tfRecord(encodeEvent({ wallTime: t, step: 0, fileVersion: 'brain.Event:2' }))];
    // a resumed run redoes steps after its checkpoint: START tells TensorBoard to drop the old ones
    if (opts.restartAtStep !== undefined) head.push(tfRecord(encodeEvent({ wallTime: t, step: opts.restartAtStep, sessionLog: 1 })));
    fs.writeFileSync(this.file, Buffer.concat(head));
  }
  #now: () => number;

  /** Appends one event holding every finite scalar (tag → value) at `step`. */
  addScalars(step: number, scalars: Record<string, number>): void {
    const entries = Object.entries(scalars).filter(([, v]) => typeof v === 'number' && Number.isFinite(v));
    if (entries.length === 0) return;
    fs.appendFileSync(this.file, tfRecord(encodeEvent({ wallTime: this.#now(), step, scalars: entries })));
  }
}
