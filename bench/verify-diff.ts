/**
 * Differential test of the math grader against math-verify (PyPI `math-verify`, the grader of
 * Hugging Face's open-r1), on cases with a known verdict:
 *
 *   - generated: random expression trees over x, y and small integers, rewritten into an
 *     equivalent form (commuting, distributing, scaling a fraction, expanding a power, folding
 *     constants, re-styling the LaTeX) or a non-equivalent one (a constant changed, operands of
 *     − ÷ ^ swapped, an operator changed, a variable renamed) — every pair is checked numerically
 *     here at random points, so its label is right by construction; plus random rationals in
 *     several notations, tuples / sets / intervals reordered or re-bracketed, and large numbers,
 *     scientific notation, radicals, odd roots, named values and units in several notations;
 *   - the class tables of issue #11 (test/verify/math_classes.cases.ts) and the hand-written
 *     table src/verify/cases.ts.
 *
 * Prints the agreement of the two graders and each one's accuracy against the labels, and lists
 * every disagreement with the side judged right (the one that matches the label) and why;
 * writes the same to bench/results/verify-diff.md.
 *
 * Run: make build && nice -n 10 node dist/bench/verify-diff.js [--n 400] [--seed 1]
 * Python: $PRIME_PYTHON, else .venv/bin/python (needs math-verify; see python/requirements.txt).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gradeMathSync, type ExtractionMode } from '../src/verify/index.js';
import { CLASS_CASES, CLASS_NAMES } from '../test/verify/math_classes.cases.js';
import { MATH_CASES } from '../src/verify/cases.js';
import { mulberry32 } from '../src/verify/math/equivalence.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('--n', 400);
const SEED = arg('--seed', 1);

interface Case {
  id: number;
  source: string;
  response: string;
  truth: string;
  equivalent: boolean;
  why: string;
  extraction?: ExtractionMode;
}

// ---------------------------------------------------------------------------------------------
// Random expressions

const rand = mulberry32(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

type Op = 'add' | 'sub' | 'mul' | 'div' | 'pow';
type Node = { k: 'num'; v: number } | { k: 'var'; name: string } | { k: 'neg'; a: Node } | { k: 'sqrt'; a: Node } | { k: Op; a: Node; b: Node };

const num = (v: number): Node => ({ k: 'num', v });
const bin = (k: Op, a: Node, b: Node): Node => ({ k, a, b });

function randomTree(depth: number): Node {
  if (depth === 0 || rand() < 0.25) return rand() < 0.5 ? { k: 'var', name: pick(['x', 'y']) } : num(int(1, 9));
  const r = rand();
  if (r < 0.08) return { k: 'sqrt', a: bin('add', bin('pow', { k: 'var', name: pick(['x', 'y']) }, num(2)), num(int(1, 9))) };
  if (r < 0.14) return { k: 'neg', a: randomTree(depth - 1) };
  const op = pick<Op>(['add', 'add', 'sub', 'mul', 'mul', 'div', 'pow']);
  if (op === 'pow') return bin('pow', randomTree(depth - 1), num(int(2, 3)));
  return bin(op, randomTree(depth - 1), randomTree(depth - 1));
}

function evalTree(n: Node, env: Record<string, number>): number {
  switch (n.k) {
    case 'num': return n.v;
    case 'var': return env[n.name]!;
    case 'neg': return -evalTree(n.a, env);
    case 'sqrt': return Math.sqrt(evalTree(n.a, env));
    case 'add': return evalTree(n.a, env) + evalTree(n.b, env);
    case 'sub': return evalTree(n.a, env) - evalTree(n.b, env);
    case 'mul': return evalTree(n.a, env) * evalTree(n.b, env);
    case 'div': return evalTree(n.a, env) / evalTree(n.b, env);
    case 'pow': return Math.pow(evalTree(n.a, env), evalTree(n.b, env));
  }
}

const PREC: Record<Node['k'], number> = { add: 1, sub: 1, mul: 2, div: 3, neg: 2, pow: 4, sqrt: 5, num: 5, var: 5 };

/** LaTeX with random but meaning-preserving style choices (\frac vs \dfrac, \cdot vs \times vs juxtaposition). */
function latex(n: Node, styled = true): string {
  const paren = (c: Node, min: number) => (PREC[c.k] < min || (c.k === 'num' && c.v < 0) ? `\\left(${latex(c, styled)}\\right)` : latex(c, styled));
  switch (n.k) {
    case 'num': return String(n.v);
    case 'var': return n.name;
    case 'neg': return `-${paren(n.a, 3)}`;
    case 'sqrt': return `\\sqrt{${latex(n.a, styled)}}`;
    case 'add': return `${latex(n.a, styled)} + ${paren(n.b, 1.5)}`;
    case 'sub': return `${latex(n.a, styled)} - ${paren(n.b, 1.5)}`;
    case 'mul': {
      const l = paren(n.a, 2);
      const r = paren(n.b, 2.5);
      const style = styled ? pick(['cdot', 'times', 'juxt']) : 'cdot';
      if (style === 'juxt' && !/^\d/.test(r) && !/^-/.test(r)) return `${l} ${r}`;
      return `${l} ${style === 'times' ? '\\times' : '\\cdot'} ${r}`;
    }
    case 'div': {
      const r = styled ? rand() : 1;
      if (r < 0.2) return `\\left(${latex(n.a, styled)}\\right)/\\left(${latex(n.b, styled)}\\right)`;
      return `${r < 0.45 ? '\\dfrac' : '\\frac'}{${latex(n.a, styled)}}{${latex(n.b, styled)}}`;
    }
    case 'pow': {
      const e = latex(n.b, styled);
      return styled && e.length === 1 && rand() < 0.5 ? `${paren(n.a, 5)}^${e}` : `${paren(n.a, 5)}^{${e}}`;
    }
  }
}

const clone = (n: Node): Node => JSON.parse(JSON.stringify(n)) as Node;
function nodes(n: Node, out: Node[] = []): Node[] {
  out.push(n);
  if ('a' in n) nodes(n.a, out);
  if ('b' in n) nodes(n.b, out);
  return out;
}

/** One equivalence-preserving rewrite at a random node; returns its name or null. */
function rewriteEquivalent(root: Node): string | null {
  const targets = nodes(root);
  for (let tries = 0; tries < 10; tries++) {
    const n = pick(targets) as Node & Record<string, unknown>;
    const set = (m: Node) => {
      for (const key of Object.keys(n)) delete (n as Record<string, unknown>)[key];
      Object.assign(n, m);
    };
    switch (n.k) {
      case 'add':
      case 'mul':
        if (n.k === 'mul' && 'a' in n && (n.b as Node).k === 'add' && rand() < 0.5) {
          const s = n.b as Node & { a: Node; b: Node };
          set(bin('add', bin('mul', clone(n.a as Node), s.a), bin('mul', clone(n.a as Node), s.b)));
          return 'distribute a(b+c) = ab + ac';
        }
        set(bin(n.k, n.b as Node, n.a as Node));
        return n.k === 'add' ? 'commute a+b' : 'commute ab';
      case 'sub':
        set(bin('add', { k: 'neg', a: n.b as Node }, n.a as Node));
        return 'a-b = -b+a';
      case 'div': {
        if (rand() < 0.3) {
          set(bin('mul', n.a as Node, bin('pow', n.b as Node, num(-1))));
          return 'a/b = a·b^{-1}';
        }
        const c = int(2, 5);
        set(bin('div', bin('mul', num(c), n.a as Node), bin('mul', num(c), n.b as Node)));
        return `scale a fraction by ${c}`;
      }
      case 'pow': {
        const e = n.b as Node;
        if (e.k === 'num' && e.v === 2) {
          set(bin('mul', clone(n.a as Node), clone(n.a as Node)));
          return 'a^2 = a·a';
        }
        if (e.k === 'num' && e.v === 3) {
          set(bin('mul', bin('pow', clone(n.a as Node), num(2)), clone(n.a as Node)));
          return 'a^3 = a^2·a';
        }
        break;
      }
      case 'num':
        if (n.v > 2) {
          const a = int(1, n.v - 1);
          set(bin('add', num(a), num(n.v - a)));
          return 'n = a + (n−a)';
        }
        break;
    }
  }
  return null;
}

/** One change that (almost always) alters the value; the caller checks numerically. */
function perturb(root: Node): string | null {
  const targets = nodes(root);
  for (let tries = 0; tries < 10; tries++) {
    const n = pick(targets) as Node & Record<string, unknown>;
    switch (n.k) {
      case 'num':
        n.v = n.v + pick([1, -1, 2]);
        return 'a constant changed';
      case 'sub':
      case 'div': {
        const t = n.a;
        n.a = n.b;
        n.b = t;
        return `operands of ${n.k === 'sub' ? '−' : '÷'} swapped`;
      }
      case 'add':
        (n as { k: string }).k = 'sub';
        return '+ changed to −';
      case 'mul':
        (n as { k: string }).k = 'add';
        return '× changed to +';
      case 'var':
        n.name = n.name === 'x' ? 'y' : 'x';
        return 'a variable renamed';
      case 'pow': {
        const b = n.b as Node;
        if (b.k === 'num') {
          b.v = b.v === 2 ? 3 : 2;
          return 'an exponent changed';
        }
      }
    }
  }
  return null;
}

const POINTS = [
  { x: 0.7, y: 1.3 },
  { x: 1.9, y: 0.45 },
  { x: 2.3, y: 2.9 },
  { x: 0.55, y: 1.7 },
  { x: 3.1, y: 0.8 },
];
const values = (n: Node) => POINTS.map((p) => evalTree(n, p));
const ok = (vs: number[]) => vs.every((v) => Number.isFinite(v) && Math.abs(v) < 1e8);
const same = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 1e-9 * Math.max(1, Math.abs(v), Math.abs(b[i]!)));
const clearlyDifferent = (a: number[], b: number[]) => a.some((v, i) => Math.abs(v - b[i]!) > 1e-2 * Math.max(1, Math.abs(v), Math.abs(b[i]!)));

const boxed = (s: string) => `Therefore, the final answer is $\\boxed{${s}}$.`;

function generatedExpressionCases(count: number): Omit<Case, 'id'>[] {
  const out: Omit<Case, 'id'>[] = [];
  let guard = 0;
  while (out.length < count && guard++ < count * 50) {
    const t = randomTree(int(1, 3));
    const tv = values(t);
    if (!ok(tv) || t.k === 'num' || t.k === 'var') continue;
    const truth = latex(t, false);
    if (rand() < 0.5) {
      const u = clone(t);
      const steps: string[] = [];
      for (let k = int(1, 3); k > 0; k--) {
        const s = rewriteEquivalent(u);
        if (s !== null) steps.push(s);
      }
      if (steps.length === 0 || !same(tv, values(u))) continue;
      out.push({ source: 'generated expression', response: boxed(latex(u)), truth, equivalent: true, why: `equivalent rewrite: ${steps.join('; ')}` });
    } else {
      const u = clone(t);
      const s = perturb(u);
      const uv = values(u);
      if (s === null || !ok(uv) || !clearlyDifferent(tv, uv)) continue;
      out.push({ source: 'generated expression', response: boxed(latex(u)), truth, equivalent: false, why: `non-equivalent: ${s}` });
    }
  }
  return out;
}

function gcd(a: number, b: number): number {
  return b === 0 ? Math.abs(a) : gcd(b, a % b);
}

function generatedNumberCases(count: number): Omit<Case, 'id'>[] {
  const out: Omit<Case, 'id'>[] = [];
  while (out.length < count) {
    const q = pick([2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 25]);
    let p = int(-40, 40);
    if (p === 0 || gcd(p, q) !== 1) continue;
    const neg = p < 0;
    p = Math.abs(p);
    const sign = neg ? '-' : '';
    const truth = `${sign}\\frac{${p}}{${q}}`;
    const terminating = [2, 4, 5, 8, 10, 16, 20, 25].includes(q);
    const forms: [string, string][] = [
      [`${neg ? '-' : ''}${p}/${q}`, 'a/b for \\frac{a}{b}'],
      [`\\frac{${neg ? -p : p}}{${q}}`, 'sign inside the fraction'],
      [`${sign}\\dfrac{${2 * p}}{${2 * q}}`, "unreduced \\dfrac"],
    ];
    if (terminating) forms.push([`${neg ? -p / q : p / q}`, 'exact decimal']);
    if (p > q) forms.push([`${sign}${Math.floor(p / q)}\\frac{${p % q}}{${q}}`, 'mixed number']);
    if (rand() < 0.5) {
      const [r, why] = pick(forms);
      out.push({ source: 'generated number', response: boxed(r), truth, equivalent: true, why });
    } else {
      const wrong: [string, string][] = [
        [`${sign}\\frac{${p + 1}}{${q}}`, 'numerator off by one'],
        [`${neg ? '' : '-'}\\frac{${p}}{${q}}`, 'sign flipped'],
        [`${sign}\\frac{${q}}{${p}}`, 'fraction inverted'],
      ];
      if (!terminating) wrong.push([(neg ? -p / q : p / q).toFixed(2), 'rounded to 2 decimals (relative error > 1e-4)']);
      const [r, why] = pick(wrong);
      if (why === 'fraction inverted' && p === q) continue;
      out.push({ source: 'generated number', response: boxed(r), truth, equivalent: false, why });
    }
  }
  return out;
}

function shuffled<T>(xs: T[]): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function generatedStructureCases(count: number): Omit<Case, 'id'>[] {
  const out: Omit<Case, 'id'>[] = [];
  while (out.length < count) {
    const xs = Array.from({ length: int(2, 4) }, () => int(-9, 9));
    if (new Set(xs).size !== xs.length) continue;
    const kind = pick(['set', 'tuple', 'interval']);
    if (kind === 'set') {
      const truth = `\\{${xs.join(', ')}\\}`;
      if (rand() < 0.5) out.push({ source: 'generated structure', response: boxed(`\\{${shuffled(xs).join(', ')}\\}`), truth, equivalent: true, why: 'set reordered' });
      else out.push({ source: 'generated structure', response: boxed(`\\{${xs.slice(1).join(', ')}\\}`), truth, equivalent: false, why: 'set missing an element' });
    } else if (kind === 'tuple') {
      const truth = `(${xs.join(', ')})`;
      if (rand() < 0.5) out.push({ source: 'generated structure', response: boxed(`\\left(${xs.join(',')}\\right)`), truth, equivalent: true, why: 'tuple with \\left( \\right) and no spaces' });
      else {
        const s = xs.slice().reverse();
        out.push({ source: 'generated structure', response: boxed(`(${s.join(', ')})`), truth, equivalent: false, why: 'tuple reversed' });
      }
    } else {
      const [a, b] = [Math.min(xs[0]!, xs[1]!), Math.max(xs[0]!, xs[1]!)];
      const lo = pick(['(', '[']);
      const hi = pick([')', ']']);
      const truth = `${lo}${a}, ${b}${hi}`;
      if (rand() < 0.5) {
        const ineq = `${a} ${lo === '(' ? '<' : '\\le'} x ${hi === ')' ? '<' : '\\le'} ${b}`;
        out.push({ source: 'generated structure', response: boxed(ineq), truth, equivalent: true, why: 'interval as an inequality' });
      } else {
        out.push({ source: 'generated structure', response: boxed(`${lo === '(' ? '[' : '('}${a}, ${b}${hi}`), truth, equivalent: false, why: 'interval endpoint open/closed changed' });
      }
    }
  }
  return out;
}

/** Large numbers, scientific notation, radicals, odd roots and named values in several notations. */
function generatedFormatCases(count: number): Omit<Case, 'id'>[] {
  const out: Omit<Case, 'id'>[] = [];
  const grouped = (n: number, sep: string) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, sep);
  while (out.length < count) {
    const kind = pick(['thousands', 'scientific', 'radical', 'oddroot', 'named', 'unit']);
    const good = rand() < 0.5;
    if (kind === 'thousands') {
      const n = int(1000, 9_999_999);
      const sep = pick([',', '{,}', ',\\!', '\\,', '\\;']);
      const r = good ? n : n + pick([1, -1, 10, 1000]);
      out.push({ source: 'generated format', response: boxed(grouped(r, sep)), truth: String(n), equivalent: good, why: good ? `thousands separator '${sep}'` : `thousands separator '${sep}', a digit changed` });
    } else if (kind === 'scientific') {
      const m = int(11, 99) / 10;
      const e = int(2, 7);
      const truth = String(Math.round(m * 10 ** e));
      const r = good ? m : m + 0.1;
      out.push({ source: 'generated format', response: boxed(pick([`${r.toFixed(1)} \\times 10^{${e}}`, `${r.toFixed(1)}\\cdot 10^${e}`])), truth, equivalent: good, why: good ? 'scientific notation' : 'scientific notation, mantissa changed' });
    } else if (kind === 'radical') {
      const k = int(2, 6);
      const m = pick([2, 3, 5, 6, 7]);
      const truth = `${k}\\sqrt{${m}}`;
      const r = good ? `\\sqrt{${k * k * m}}` : `\\sqrt{${k * k * m + 1}}`;
      out.push({ source: 'generated format', response: boxed(r), truth, equivalent: good, why: good ? '√(k²m) = k√m' : 'radicand off by one' });
    } else if (kind === 'oddroot') {
      const b = int(2, 5);
      const q = pick([3, 5]);
      const truth = `-${b}`;
      const r = good ? pick([`\\sqrt[${q}]{-${b ** q}}`, `(-${b ** q})^{1/${q}}`, `-\\sqrt[${q}]{${b ** q}}`]) : `\\sqrt[${q}]{${b ** q}}`;
      out.push({ source: 'generated format', response: boxed(r), truth, equivalent: good, why: good ? 'odd root of a negative is real' : 'sign lost' });
    } else if (kind === 'named') {
      const a = int(-9, 9);
      const b = int(-9, 9);
      const truth = `(${a}, ${b})`;
      const [ra, rb] = good ? [a, b] : [b === a ? a + 1 : b, a];
      out.push({ source: 'generated format', response: boxed(pick([`(x, y) = (${ra}, ${rb})`, `x = ${ra}, y = ${rb}`])), truth, equivalent: good, why: good ? 'named values' : 'named values, swapped or changed' });
    } else {
      const n = int(2, 500);
      const unit = pick(['\\text{ cm}', '\\text{ meters}', ' \\text{units}', '\\text{ dollars}', '^\\circ', '\\%', '\\text{ square units}']);
      const r = good ? n : n + 1;
      out.push({ source: 'generated format', response: boxed(`${r}${unit}`), truth: String(n), equivalent: good, why: good ? `trailing unit '${unit}'` : `trailing unit '${unit}', value changed` });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Run

function python(): string {
  return process.env.PRIME_PYTHON ?? resolve('.venv/bin/python');
}

async function main(): Promise<void> {
  const raw: Omit<Case, 'id'>[] = [
    ...generatedExpressionCases(Math.round(N * 0.5)),
    ...generatedNumberCases(Math.round(N * 0.15)),
    ...generatedStructureCases(Math.round(N * 0.15)),
    ...generatedFormatCases(Math.round(N * 0.2)),
    ...CLASS_CASES.map((c) => ({
      source: `class ${c.cls} (${CLASS_NAMES[c.cls]})`,
      response: c.response,
      truth: c.truth,
      equivalent: c.equivalent,
      why: c.note ?? (c.equivalent ? 'equivalent (class table)' : 'not equivalent (class table)'),
      ...(c.extraction ? { extraction: c.extraction } : {}),
    })),
    ...MATH_CASES.map((c) => ({
      source: `case table: ${c.category}`,
      response: c.response ?? `\\boxed{${c.answer}}`,
      truth: c.truth,
      equivalent: c.equivalent,
      why: c.note ?? (c.equivalent ? 'equivalent (case table)' : 'not equivalent (case table)'),
    })),
  ];
  const cases: Case[] = raw.map((c, id) => ({ id, ...c }));

  // prime-ts
  const t0 = performance.now();
  const ours = cases.map((c) => gradeMathSync(c.response, c.truth, { extraction: c.extraction ?? 'strict' }));
  const oursMs = performance.now() - t0;

  // math-verify, in a child process
  const dir = mkdtempSync(join(tmpdir(), 'verify-diff-'));
  const input = join(dir, 'cases.jsonl');
  writeFileSync(input, cases.map((c) => JSON.stringify({ id: c.id, response: c.response, truth: c.truth })).join('\n') + '\n');
  const here = dirname(fileURLToPath(import.meta.url));
  const script = resolve(here, '../../bench/verify_diff_mv.py');
  const t1 = performance.now();
  const r = spawnSync(python(), [script, input], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const mvMs = performance.now() - t1;
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`math-verify run failed (${python()} ${script}): ${r.error?.message ?? ''}\n${r.stderr}`);
  const mv = new Map<number, { mv: boolean | null; error: string | null }>();
  for (const line of r.stdout.split('\n')) if (line.trim()) {
    const o = JSON.parse(line) as { id: number; mv: boolean | null; error: string | null };
    mv.set(o.id, o);
  }

  // Tally
  let agree = 0;
  let oursRight = 0;
  let mvRight = 0;
  const bySource = new Map<string, { n: number; agree: number; ours: number; mv: number }>();
  const rows: string[] = [];
  const strictModeRows: string[] = [];
  for (const c of cases) {
    const o = ours[c.id]!.correct;
    const m = mv.get(c.id)?.mv ?? false; // an error or timeout grades as not equivalent
    const key = c.source.startsWith('class') ? 'issue #11 class tables' : c.source.startsWith('case table') ? 'hand-written case table' : c.source;
    const s = bySource.get(key) ?? { n: 0, agree: 0, ours: 0, mv: 0 };
    s.n++;
    if (o === m) {
      agree++;
      s.agree++;
    }
    if (o === c.equivalent) {
      oursRight++;
      s.ours++;
    }
    if (m === c.equivalent) {
      mvRight++;
      s.mv++;
    }
    bySource.set(key, s);
    if (o !== m || o !== c.equivalent) {
      const right = o === c.equivalent && m !== c.equivalent ? 'prime-ts' : m === c.equivalent && o !== c.equivalent ? 'math-verify' : 'neither';
      const err = mv.get(c.id)?.error;
      const line =
        `| ${c.id} | ${c.source} | \`${md(c.response)}\` | \`${md(c.truth)}\` | ${c.equivalent ? 'yes' : 'no'} | ${o ? 'yes' : 'no'} (${ours[c.id]!.reason}) | ` +
        `${m ? 'yes' : 'no'}${err ? ` (${md(err.slice(0, 60))})` : ''} | **${right}** | ${md(c.why)} |`;
      // Unboxed prose graded in strict mode is a difference of mode, not of correctness.
      if (c.extraction === undefined && ours[c.id]!.method === 'none' && c.source.startsWith('class 1')) strictModeRows.push(line);
      else rows.push(line);
    }
  }
  const pct = (a: number, n: number) => `${((100 * a) / n).toFixed(1)}%`;
  const n = cases.length;
  const summary = [
    `cases: ${n} (${[...bySource].map(([k, v]) => `${k} ${v.n}`).join(', ')})`,
    `agreement prime-ts vs math-verify: ${agree}/${n} = ${pct(agree, n)}`,
    `accuracy vs the labels: prime-ts ${oursRight}/${n} = ${pct(oursRight, n)}, math-verify ${mvRight}/${n} = ${pct(mvRight, n)}`,
    `non-equivalent pairs accepted: prime-ts ${cases.filter((c) => !c.equivalent && ours[c.id]!.correct).length}, math-verify ${cases.filter((c) => !c.equivalent && mv.get(c.id)?.mv === true).length} (of ${cases.filter((c) => !c.equivalent).length})`,
    `time: prime-ts ${oursMs.toFixed(0)} ms in-thread (${((n * 1000) / oursMs).toFixed(0)} checks/s), math-verify ${(mvMs / 1000).toFixed(1)} s incl. python start-up`,
  ];
  console.log(summary.join('\n'));
  const table = (title: string, body: string[]) => [
    `| ${title} | n | agree | prime-ts right | math-verify right |`,
    '| --- | --- | --- | --- | --- |',
    ...body,
  ];
  const md_ = [
    '# Differential test: prime-ts math grader vs math-verify',
    '',
    `Generated by \`nice -n 10 node dist/bench/verify-diff.js --n ${N} --seed ${SEED}\` (math-verify ${mvVersion()}, shared 2-core machine). ` +
      'Labels are right by construction for generated cases (every rewrite is checked numerically at five points) and hand-judged for the tables. ' +
      'prime-ts grades in `strict` extraction mode unless a case says `lenient`; math-verify uses its default (lenient) extraction; a math-verify error or timeout counts as "not equivalent".',
    '',
    ...summary.map((s) => `- ${s}`),
    '',
    ...table('source', [...bySource].map(([k, v]) => `| ${k} | ${v.n} | ${pct(v.agree, v.n)} | ${pct(v.ours, v.n)} | ${pct(v.mv, v.n)} |`)),
    '',
    '## Recurring causes',
    '',
    '- Inequality vs interval (`2 \\le x < 7` vs `[2, 7)`): math-verify rejects by default (`allow_set_relation_comp=False`); the inequality denotes that interval.',
    '- Magnitude (`\\frac{1}{2006!}` vs `\\frac{1}{2004!}`, `e^{-40}` vs `e^{-41}`): math-verify accepts — both round to 0 at its 6-digit float rounding; they differ by a factor ≈ 4·10⁶ and e.',
    '- Equations whose left side is not a name (`2x = 6`, `x^2 = 4` vs the right side): math-verify takes the right side of any equation; prime-ts only when the left side names the value.',
    '- Lists with repeats (`2, 2, 3` vs `2, 3`), a brace set vs a tuple: math-verify compares lists as sets and reads `{1,3}` loosely.',
    '- `50\\%` vs `0.5`: a documented choice of prime-ts (the percent sign is dropped: ground truths write percentages without it); math-verify reads % as /100. Counted here by prime-ts\'s documented label.',
    '- Notation math-verify does not parse or rejects: `\\;` / thin-space thousands separators, decimal commas, `€`, `m²`, `pct`, `\\sqrt(2)`, `array` matrices, chains and `\\approx`, `\\ne`, `\\lor`, odd roots of negatives (principal complex value), real-domain identities such as `\\sqrt{1/n}` = `1/\\sqrt n`.',
    '',
    '## Disagreements and shared errors',
    '',
    '"right" is the grader whose verdict matches the label; "neither" marks a case both get wrong (same verdict, against the label).',
    '',
    '| id | source | response | truth | equivalent | prime-ts | math-verify | right | why |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    '## Differences of extraction mode (not of correctness)',
    '',
    'Unboxed prose without an answer marker: prime-ts in its default `strict` mode (RL prompts ask for a box) extracts nothing; math-verify always extracts leniently. The same responses graded with `extraction: lenient` are rows of class 1 above/in the table with `lenient`.',
    '',
    '| id | source | response | truth | equivalent | prime-ts | math-verify | right | why |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...strictModeRows,
    '',
  ];
  const outFile = resolve(here, '../../bench/results/verify-diff.md');
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, md_.join('\n'));
  console.log(`${rows.length} disagreements or shared errors listed (+ ${strictModeRows.length} strict-mode differences) in ${outFile}`);
}

function md(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, '⏎').replace(/`/g, "'");
}

function mvVersion(): string {
  const r = spawnSync(python(), ['-c', 'import importlib.metadata as m; print(m.version("math-verify"))'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

await main();
