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
import { matchBrace, outerBrackets, splitTopLevel } from './latex.js';

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
/** Separators between the items of a bracketed set or tuple: `\{1; 3\}`, `(1; 2)`. */
const ITEM_SEPARATORS = [',', ';'];

/** Commands that only decorate a name: \angle ABC, \overline{AB}, \vec{v}, \triangle ABC. */
const LABEL_COMMANDS = /\\(?:angle|measuredangle|overline|overrightarrow|vec|hat|widehat|bar|triangle|operatorname|mathit|arc|widetilde|tilde)(?![a-zA-Z])/g;

/**
 * Whether an equation's left side only names what the right side gives — a variable (`x`,
 * `a_n`, `f(x)`), a tuple of them (`(p, q)`), a segment, angle or area (`AB`, `|AB|`,
 * `\angle ABC`, `[ABC]`), a ratio of names (`V_1 : V_2`), or a plain-arithmetic computation
 * (`5 + 5 + 1`) — so that `lhs = 3` states the answer 3. A left side with an operator on names
 * (`x^2 + y^2`, `2x`) is an equation to compare as such: `x^2 + y^2 = 1` is a circle, not 1.
 */
export function isLabel(lhs: string): boolean {
  const t = lhs.trim();
  if (t === '') return false;
  if (VARIABLE_LHS.test(t)) return true;
  // Plain arithmetic on numbers (a computation whose value is the right side).
  const arith = t.replace(/\\(?:cdot|times|div|frac|sqrt)(?![a-zA-Z])/g, ' ');
  if (/\d/.test(arith) && /^[\d\s.+\-*/()^{}[\]!]*$/.test(arith)) return true;
  let u = t.replace(LABEL_COMMANDS, ' ').replace(/_\{[^{}]*\}|_[a-zA-Z0-9]/g, '').replace(/'/g, '');
  u = u.replace(/\\(?:alpha|beta|gamma|delta|theta|phi|varphi|psi|omega|lambda|mu|sigma|rho|tau|xi|eta|zeta|kappa|nu|chi|epsilon|varepsilon|pi|Delta|Gamma|Theta|Phi|Omega|Sigma)(?![a-zA-Z])/g, 'a');
  // Letters (names), grouping, separators, |…| and a ratio colon; no digits or operators.
  return /^[a-zA-Z\s(),;:|[\]{}]+$/.test(u) && /[a-zA-Z]/.test(u);
}

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

type Rel = 'lt' | 'le' | 'gt' | 'ge';
const FLIP: Record<Rel, Rel> = { lt: 'gt', le: 'ge', gt: 'lt', ge: 'le' };

/**
 * A variable with an optional numeric coefficient — `x`, `-x`, `2x`, `-3t`, `\frac{1}{2}x` —
 * as [variable, coefficient latex or null for 1, negative]. `withCall` also admits `f(x)`.
 */
function scaledVariable(p: string, withCall: boolean): { coef: string | null; negative: boolean } | null {
  const m = /^(-?)\s*(\d+(?:\.\d+)?|\\frac\{\d+\}\{\d+\})?\s*(.+)$/.exec(p);
  if (m === null) return null;
  const v = m[3]!.trim();
  if (!VARIABLE_LHS.test(v) || (!withCall && /\(/.test(v))) return null;
  return { coef: m[2] ?? null, negative: m[1] === '-' };
}

/**
 * x > 3 → (3, ∞); 1 \le x < 2 → [1, 2); 3 < x → (3, ∞); -x > -1 → (-∞, 1); 2x \le 6 →
 * (-∞, 6/2]; 0 < f(x) < 1 → (0, 1). Null if not a one-variable linear inequality.
 */
function inequalityToInterval(s: string): Answer | null {
  const split = splitRelations(s);
  if (split === null) return null;
  const [parts, rels] = split;
  const hasLetter = (p: string) => /[a-zA-Z]/.test(p.replace(/\\(?:infty|pi|frac|sqrt|cdot|sin|cos|tan|ln|log|e)(?![a-zA-Z])/g, ''));
  /** The bound divided by the variable's coefficient. */
  const scale = (bound: string, sv: { coef: string | null; negative: boolean }): string => {
    if (sv.coef === null) return sv.negative ? `-(${bound})` : bound;
    return `${sv.negative ? '-' : ''}\\frac{${bound}}{${sv.coef}}`;
  };
  const lower = (p: string, strict: boolean) => ({ latex: p, open: strict ? '(' : '[' });
  const upper = (p: string, strict: boolean) => ({ latex: p, close: strict ? ')' : ']' });
  let lo = { latex: '-\\infty', open: '(' };
  let hi = { latex: '\\infty', close: ')' };
  if (parts.length === 2) {
    const [a, b] = parts as [string, string];
    let rel = rels[0]!;
    const sa = hasLetter(b) ? null : scaledVariable(a, false);
    const sb = hasLetter(a) ? null : scaledVariable(b, false);
    let sv: { coef: string | null; negative: boolean };
    let bound: string;
    if (sa !== null && sb === null) [sv, bound] = [sa, b];
    else if (sb !== null && sa === null) [sv, bound, rel] = [sb, a, FLIP[rel]];
    else return null;
    // Orient as "x REL bound"; dividing by a negative coefficient flips the relation.
    bound = scale(bound, sv);
    const r = sv.negative ? FLIP[rel] : rel;
    if (r === 'gt' || r === 'ge') lo = lower(bound, r === 'gt');
    else hi = upper(bound, r === 'lt');
  } else if (parts.length === 3) {
    const [a, x, b] = parts as [string, string, string];
    const sv = hasLetter(a) || hasLetter(b) ? null : scaledVariable(x, true);
    if (sv === null) return null;
    let [r1, r2] = rels as [Rel, Rel];
    const [left, right] = [scale(a, sv), scale(b, sv)];
    if (sv.negative) [r1, r2] = [FLIP[r1], FLIP[r2]];
    const ascending = (r1 === 'lt' || r1 === 'le') && (r2 === 'lt' || r2 === 'le');
    const descending = (r1 === 'gt' || r1 === 'ge') && (r2 === 'gt' || r2 === 'ge');
    if (ascending) {
      lo = lower(left, r1 === 'lt');
      hi = upper(right, r2 === 'lt');
    } else if (descending) {
      lo = lower(right, r2 === 'gt');
      hi = upper(left, r1 === 'gt');
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

/** `x \ne a` (or `a \ne x`) → (-∞, a) ∪ (a, ∞); null otherwise. */
function notEqualToUnion(s: string): Answer | null {
  const parts = splitTopLevel(s, ['\\ne']).map((p) => p.trim());
  if (parts.length !== 2) return null;
  const [a, b] = parts as [string, string];
  const isVar = (p: string) => VARIABLE_LHS.test(p) && !/\(/.test(p);
  let bound: string;
  if (isVar(a) && !isVar(b)) bound = b;
  else if (isVar(b) && !isVar(a)) bound = a;
  else return null;
  const interval = (lo: string, hi: string): Answer => ({
    kind: 'tuple',
    open: '(',
    close: ')',
    items: [
      { kind: 'scalar', latex: lo },
      { kind: 'scalar', latex: hi },
    ],
  });
  return { kind: 'union', items: [interval('-\\infty', bound), interval(bound, '\\infty')] };
}

function parseMatrix(s: string, depth: number): Answer | null {
  // `\left[ \begin{array}{cc} … \end{array} \right]` (the sizes are gone by now), also with
  // ( ) and with a plain `matrix` inside: the brackets only draw the matrix.
  const wrapped = /^[([]\s*(\\begin\{(array|matrix|smallmatrix)\}[\s\S]*\\end\{\2\})\s*[)\]]$/.exec(s);
  if (wrapped !== null) s = wrapped[1]!;
  let m = /^\\begin\{([pbB]?matrix|smallmatrix)\}([\s\S]*)\\end\{\1\}$/.exec(s);
  if (m === null) {
    // array: drop the column specification {cc} / {c|c}.
    const a = /^\\begin\{array\}\s*\{[^{}]*\}([\s\S]*)\\end\{array\}$/.exec(s);
    if (a === null) return null;
    m = ['', 'array', a[1]!] as unknown as RegExpExecArray;
  }
  const body = m[2]!.trim().replace(/\\\\\s*$/, '').replace(/\\hline/g, '');
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

/**
 * Splits at top-level `=` and `\approx`: the parts and the relation before each later part.
 * `x = 5 + 5 + 1 = 11` → [x, 5+5+1, 11], ['=', '=']. A `<=`/`>=`/`!=` never reaches here.
 */
function splitChain(s: string): [string[], ('=' | '≈')[]] {
  const parts: string[] = [];
  const rels: ('=' | '≈')[] = [];
  const pieces = splitTopLevel(s, ['\\approx', '=']);
  if (pieces.length === 1) return [[s], []];
  // Recover which separator preceded each piece from the text positions.
  let at = 0;
  pieces.forEach((p, k) => {
    if (k > 0) {
      const sep = s.startsWith('\\approx', at) ? '≈' : '=';
      rels.push(sep);
      at += sep === '≈' ? '\\approx'.length : 1;
    }
    parts.push(p.trim());
    at += p.length;
  });
  return [parts, rels];
}

/**
 * The right side an equation chain states: the last part joined by `=` (`x = 3\sqrt{3}
 * \approx 5.196` gives the exact `3\sqrt{3}`), or the last part if every join is `≈`.
 */
function chainValue(parts: string[], rels: ('=' | '≈')[]): string {
  for (let k = parts.length - 1; k >= 1; k--) if (rels[k - 1] === '=') return parts[k]!;
  return parts[parts.length - 1]!;
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

  // `{1, 3}` written without backslashes is a set; a plain group `{5}` is its content.
  if (s.startsWith('{') && matchBrace(s, 0) === s.length - 1) {
    const inner = s.slice(1, -1);
    const items = splitTopLevel(inner, ITEM_SEPARATORS).map((p) => p.trim());
    if (items.length > 1) return { kind: 'set', items: items.filter((p) => p !== '').map((p) => parseAnswer(p, depth + 1)) };
    return parseAnswer(inner, depth + 1);
  }

  const outer = outerBrackets(s);
  if (outer !== null) {
    const [open, inner, close] = outer;
    const items = splitTopLevel(inner, ITEM_SEPARATORS).map((p) => p.trim());
    if (open === '\\{') {
      if (inner.trim() === '') return { kind: 'set', items: [] };
      return { kind: 'set', items: items.filter((p) => p !== '').map((p) => parseAnswer(p, depth + 1)) };
    }
    if (items.length > 1) return { kind: 'tuple', open, close, items: items.map((p) => parseAnswer(p, depth + 1)) };
    if (open === '(' && close === ')') return parseAnswer(inner, depth + 1); // redundant parentheses
  }
  if (/^\\(?:emptyset|varnothing)$/.test(s)) return { kind: 'set', items: [] };

  const [chain, joins] = splitChain(s);
  if (chain.length === 2 && joins[0] === '=' && !/[<>!]$/.test(chain[0]!)) return { kind: 'equation', lhs: chain[0]!, rhs: chain[1]! };
  if (chain.length >= 2 && chain.every((p) => p !== '')) {
    // A chain `x = 5 + 5 + 1 = 11` or an approximation `x \approx 3.14`: the value it states.
    return { kind: 'equation', lhs: chain[0]!, rhs: chainValue(chain, joins) };
  }

  const ne = notEqualToUnion(s);
  if (ne !== null) return ne;

  const interval = inequalityToInterval(s);
  if (interval !== null) return interval;

  // A ratio `3 : 2` is the number 3/2 (a set-builder `\{x : …\}` never reaches here).
  const ratio = splitTopLevel(s, [':']).map((p) => p.trim());
  if (ratio.length === 2 && ratio.every((p) => p !== '' && !/[=<>]|\\(?:le|ge|lt|gt|ne)(?![a-zA-Z])/.test(p))) {
    return { kind: 'scalar', latex: `\\frac{${ratio[0]}}{${ratio[1]}}` };
  }

  if (hasWord(s)) return { kind: 'text', text: s.replace(/\s+/g, ' ').toLowerCase() };
  return { kind: 'scalar', latex: s };
}
