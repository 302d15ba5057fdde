/**
 * Parses a normalized answer into its shape — the part of an answer that decides *how* two
 * answers are compared — leaving scalar leaves as LaTeX for the engine:
 *
 *   union     A \cup B \cup …          parts compared in any order
 *   list      a, b  /  a or b  / a; b  items compared in any order (a bare list of solutions)
 *   tuple     (a, b)  [a, b)  (a, b]   items in order, and the brackets must match
 *                                      (a point and an open interval are both `(a, b)`)
 *   set       \{a, b\}                 items in any order, duplicates ignored
 *   matrix    \begin{pmatrix}…\end{pmatrix} (also bmatrix, matrix): shape and entries
 *   equation  lhs = rhs
 *   text      a word answer (a run of ≥ 4 letters outside commands): compared case-insensitively
 *   scalar    anything else
 *
 * `a \pm b` becomes the list [a + b, a − b]; `x \in S` becomes S; a one-variable inequality
 * becomes the interval it denotes (x > 3 → (3, \infty)).
 */
import { outerBrackets, splitTopLevel } from './latex.js';

export type Answer =
  | { kind: 'scalar'; latex: string }
  | { kind: 'text'; text: string }
  | { kind: 'equation'; lhs: string; rhs: string }
  | { kind: 'tuple'; open: string; close: string; items: Answer[] }
  | { kind: 'set'; items: Answer[] }
  | { kind: 'list'; items: Answer[] }
  | { kind: 'union'; items: Answer[] }
  | { kind: 'matrix'; rows: Answer[][] };

/** Nesting deeper than this is parsed as a scalar (and then most likely fails to parse). */
const MAX_DEPTH = 8;

const LIST_SEPARATORS = [',', ';', ' or ', ' and '];

/** A single variable, possibly subscripted or applied: x, \theta, a_n, f(x), P(x, y). */
export const VARIABLE_LHS = /^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?[a-zA-Z0-9]+\}?)?(?:'*)(?:\([^()=]*\))?$/;

const RELATIONS: [string, 'lt' | 'le' | 'gt' | 'ge'][] = [
  ['\\le', 'le'],
  ['\\ge', 'ge'],
  ['\\lt', 'lt'],
  ['\\gt', 'gt'],
  ['<=', 'le'],
  ['>=', 'ge'],
  ['<', 'lt'],
  ['>', 'gt'],
];

/** Whether the text has a word — a run of ≥ 4 letters that is not part of a command name. */
function hasWord(s: string): boolean {
  const stripped = s.replace(/\\operatorname\{[^{}]*\}/g, ' ').replace(/\\[a-zA-Z]+/g, ' ');
  return /[a-zA-Z]{4,}/.test(stripped);
}

/** Splits at depth-0 relation symbols: returns [parts, relations] or null if there are none. */
function splitRelations(s: string): [string[], ('lt' | 'le' | 'gt' | 'ge')[]] | null {
  const parts: string[] = [];
  const rels: ('lt' | 'le' | 'gt' | 'ge')[] = [];
  let rest = s;
  for (let guard = 0; guard < 4; guard++) {
    let found: [number, string, 'lt' | 'le' | 'gt' | 'ge'] | null = null;
    for (const [sym, rel] of RELATIONS) {
      const pieces = splitTopLevel(rest, [sym]);
      if (pieces.length > 1) {
        const idx = pieces[0]!.length;
        if (found === null || idx < found[0]) found = [idx, sym, rel];
      }
    }
    if (found === null) break;
    parts.push(rest.slice(0, found[0]));
    rels.push(found[2]);
    rest = rest.slice(found[0] + found[1].length);
  }
  if (rels.length === 0) return null;
  parts.push(rest);
  return [parts.map((p) => p.trim()), rels];
}

/** x > 3 → (3, ∞); 1 \le x < 2 → [1, 2); 3 < x → (3, ∞). Null if not a 1-variable inequality. */
function inequalityToInterval(s: string): Answer | null {
  const split = splitRelations(s);
  if (split === null) return null;
  const [parts, rels] = split;
  const isVar = (p: string) => VARIABLE_LHS.test(p) && !/\(/.test(p);
  const lower = (p: string, strict: boolean) => ({ latex: p, open: strict ? '(' : '[' });
  const upper = (p: string, strict: boolean) => ({ latex: p, close: strict ? ')' : ']' });
  let lo = { latex: '-\\infty', open: '(' };
  let hi = { latex: '\\infty', close: ')' };
  if (parts.length === 2) {
    const [a, b] = parts as [string, string];
    const rel = rels[0]!;
    let v: 'left' | 'right';
    if (isVar(a) && !isVar(b)) v = 'left';
    else if (isVar(b) && !isVar(a)) v = 'right';
    else return null;
    const bound = v === 'left' ? b : a;
    // Orient as "x REL bound".
    const r = v === 'left' ? rel : ({ lt: 'gt', le: 'ge', gt: 'lt', ge: 'le' } as const)[rel];
    if (r === 'gt' || r === 'ge') lo = lower(bound, r === 'gt');
    else hi = upper(bound, r === 'lt');
  } else if (parts.length === 3) {
    const [a, x, b] = parts as [string, string, string];
    if (!isVar(x)) return null;
    const [r1, r2] = rels as ['lt' | 'le' | 'gt' | 'ge', 'lt' | 'le' | 'gt' | 'ge'];
    const ascending = (r1 === 'lt' || r1 === 'le') && (r2 === 'lt' || r2 === 'le');
    const descending = (r1 === 'gt' || r1 === 'ge') && (r2 === 'gt' || r2 === 'ge');
    if (ascending) {
      lo = lower(a, r1 === 'lt');
      hi = upper(b, r2 === 'lt');
    } else if (descending) {
      lo = lower(b, r2 === 'gt');
      hi = upper(a, r1 === 'gt');
    } else return null;
  } else return null;
  return {
    kind: 'tuple',
    open: lo.open,
    close: hi.close,
    items: [
      { kind: 'scalar', latex: lo.latex },
      { kind: 'scalar', latex: hi.latex },
    ],
  };
}

function parseMatrix(s: string, depth: number): Answer | null {
  const m = /^\\begin\{([pbB]?matrix)\}([\s\S]*)\\end\{\1\}$/.exec(s);
  if (m === null) return null;
  const body = m[2]!.trim().replace(/\\\\\s*$/, '');
  const rows = splitTopLevel(body, ['\\\\']).map((row) =>
    splitTopLevel(row, ['&']).map((cell) => parseAnswer(cell.trim(), depth + 1)),
  );
  return { kind: 'matrix', rows };
}

/** Expands a single `\pm` / `\mp` into the two answers it abbreviates, or null. */
function expandPlusMinus(s: string): [string, string] | null {
  const occurrences = s.match(/\\(?:pm|mp)(?![a-zA-Z])/g);
  if (occurrences === null || occurrences.length !== 1) return null;
  const plusFirst = occurrences[0] === '\\pm';
  const a = s.replace(/\\(?:pm|mp)(?![a-zA-Z])/, plusFirst ? '+' : '-');
  const b = s.replace(/\\(?:pm|mp)(?![a-zA-Z])/, plusFirst ? '-' : '+');
  return [a.replace(/^\+/, ''), b.replace(/^\+/, '')];
}

/** Parses a normalized answer string into its shape (see the module comment). */
export function parseAnswer(s: string, depth = 0): Answer {
  s = s.trim();
  if (depth > MAX_DEPTH) return { kind: 'scalar', latex: s };

  const unionParts = splitTopLevel(s, ['\\cup']);
  if (unionParts.length > 1) return { kind: 'union', items: unionParts.map((p) => parseAnswer(p, depth + 1)) };

  const pm = expandPlusMinus(s);
  if (pm !== null) return { kind: 'list', items: pm.map((p) => parseAnswer(p, depth + 1)) };

  const listParts = splitTopLevel(s, LIST_SEPARATORS).map((p) => p.trim());
  if (listParts.length > 1) {
    const items = listParts.filter((p) => p.length > 0);
    if (items.length > 1) return { kind: 'list', items: items.map((p) => parseAnswer(p, depth + 1)) };
    if (items.length === 1) return parseAnswer(items[0]!, depth + 1);
  }

  const inSet = /^(?:[a-zA-Z]|\\[a-zA-Z]+)\s*\\in\s*(.+)$/.exec(s);
  if (inSet !== null) return parseAnswer(inSet[1]!, depth + 1);

  const matrix = parseMatrix(s, depth);
  if (matrix !== null) return matrix;

  const outer = outerBrackets(s);
  if (outer !== null) {
    const [open, inner, close] = outer;
    const items = splitTopLevel(inner, [',']).map((p) => p.trim());
    if (open === '\\{') {
      if (inner.trim() === '') return { kind: 'set', items: [] };
      return { kind: 'set', items: items.map((p) => parseAnswer(p, depth + 1)) };
    }
    if (items.length > 1) return { kind: 'tuple', open, close, items: items.map((p) => parseAnswer(p, depth + 1)) };
    if (open === '(' && close === ')') return parseAnswer(inner, depth + 1); // redundant parentheses
  }
  if (/^\\(?:emptyset|varnothing)$/.test(s)) return { kind: 'set', items: [] };

  const eq = splitTopLevel(s, ['=']);
  if (eq.length === 2 && !/[<>!]$/.test(eq[0]!)) return { kind: 'equation', lhs: eq[0]!.trim(), rhs: eq[1]!.trim() };

  const interval = inequalityToInterval(s);
  if (interval !== null) return interval;

  if (hasWord(s)) return { kind: 'text', text: s.replace(/\s+/g, ' ').toLowerCase() };
  return { kind: 'scalar', latex: s };
}
