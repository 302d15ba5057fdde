/**
 * Normalization of an extracted answer (or a ground truth) to a canonical LaTeX string.
 *
 * Each step removes a difference of notation that carries no mathematical content:
 *   math delimiters ($, \(…\)), \left/\right and \big sizes, \dfrac/\tfrac/\cfrac → \frac,
 *   thin spaces (\! \, \; \:), \text{}/\mathrm{}/\textbf{}/\mbox{} wrappers, degree marks,
 *   percent signs, dollar signs, a documented list of units, thousands separators in a
 *   number standing alone, trailing punctuation, runs of spaces.
 * Documented choices (README): `50\%` normalizes to `50`; `2\frac{1}{2}` is the mixed
 * number 5/2; single-letter units (m, s, g, …) are only removed inside \text{}; a degree
 * mark is dropped (45^\circ → 45) except on the argument of a trig function, where it
 * converts to radians.
 */
import { replaceCommandArg } from './latex.js';

/**
 * Unit words removed when they trail an answer, whether bare ("5 cm") or in \text{}.
 * Plural "s" and a "square"/"sq"/"cubic" prefix and ^2/^3 suffix are also accepted.
 */
export const UNIT_WORDS: readonly string[] = [
  // length
  'mm', 'cm', 'km', 'meter', 'metre', 'centimeter', 'centimetre', 'millimeter', 'kilometer', 'kilometre',
  'inch', 'inches', 'foot', 'feet', 'ft', 'yard', 'yd', 'mile',
  // area, volume, generic
  'unit', 'liter', 'litre', 'ml', 'milliliter', 'gallon', 'cc',
  // angle
  'degree', 'deg', 'radian',
  // money
  'dollar', 'cent', 'yuan', 'euro', 'rupee',
  // time
  'second', 'minute', 'hour', 'hr', 'day', 'week', 'month', 'year',
  // mass, speed, misc
  'gram', 'kg', 'kilogram', 'pound', 'lb', 'ounce', 'oz', 'ton', 'mph', 'kph', 'km/h', 'm/s', 'percent', 'pct',
];

/** Units too ambiguous to strip outside \text{} (each is also a common variable name). */
export const TEXT_ONLY_UNIT_WORDS: readonly string[] = ['m', 's', 'g', 'h', 'l', 'in', 'mi', 'min', 'sec', 'rad', 'km/hr'];

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

const unitAlternation = (words: readonly string[]): string =>
  [...words].sort((a, b) => b.length - a.length).map(escapeRegex).join('|');

// "square meters", "sq. units", "cubic cm", "cm^2", "meters^{3}".
const UNIT_PHRASE = (words: readonly string[]): string =>
  `(?:(?:square|sq\\.?|cubic)\\s+)?(?:${unitAlternation(words)})(?:e?s)?\\.?(?:\\s*\\^\\s*\\{?\\s*[23]\\s*\\}?)?`;

const TEXT_UNIT_RE = new RegExp(`^\\s*(?:${UNIT_PHRASE([...UNIT_WORDS, ...TEXT_ONLY_UNIT_WORDS])})\\s*$`, 'i');
// A bare unit must follow a digit, a closing bracket/brace or a space.
const BARE_UNIT_RE = new RegExp(`(?<=[\\d})\\]]|\\s)\\s*(?:${UNIT_PHRASE(UNIT_WORDS)})\\s*$`, 'i');

const TEXT_COMMANDS = [
  '\\text', '\\textbf', '\\textit', '\\textrm', '\\textnormal', '\\textsf', '\\texttt', '\\mathrm',
  '\\mathbf', '\\mathit', '\\mathsf', '\\mathtt', '\\mathnormal', '\\mbox', '\\hbox', '\\emph', '\\boldsymbol',
  '\\bm', '\\displaystyle',
];

const UNICODE: [RegExp, string][] = [
  [/−|–|—/g, '-'],
  [/×/g, '\\times '],
  [/·|⋅/g, '\\cdot '],
  [/÷/g, '\\div '],
  [/π/g, '\\pi '],
  [/∞/g, '\\infty '],
  [/√/g, '\\sqrt'],
  [/≤/g, '\\le '],
  [/≥/g, '\\ge '],
  [/≠/g, '\\ne '],
  [/±/g, '\\pm '],
  [/∪/g, '\\cup '],
  [/°/g, '^\\circ'],
  [/\u00a0/g, ' '],
  // Thin and hair spaces are thousands separators or nothing (32 349, 1 000 000).
  [/[\u2009\u202f\u2006\u200a\u2008]/g, ''],
  [/≈/g, '\\approx '],
  [/²/g, '^2'],
  [/³/g, '^3'],
];

/** Currency signs: dropped wherever they stand (like `\$`); a decimal comma is then unambiguous. */
const CURRENCY = /[€£¥₹₽₩¢]|\\(?:euro|pounds|yen|textdollar|texteuro|textsterling)(?![a-zA-Z])/g;

/**
 * A parenthesized argument right after a one-argument command is that argument:
 * `\sqrt(2)` → `\sqrt{2}`, `4\sqrt(x+1)` → `4\sqrt{x+1}`, `\sqrt[3](x)` → `\sqrt[3]{x}`.
 */
function parenthesizedArguments(s: string): string {
  const re = /\\(sqrt(?:\[[^\]]*\])?|overline|bar|vec|hat|lfloor)\s*\(/g;
  let out = '';
  let from = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    const open = m.index + m[0].length - 1;
    let depth = 0;
    let close = -1;
    for (let k = open; k < s.length; k++) {
      if (s[k] === '(') depth++;
      else if (s[k] === ')' && --depth === 0) {
        close = k;
        break;
      }
    }
    if (close < 0) break;
    out += s.slice(from, m.index) + `\\${m[1]}{${s.slice(open + 1, close)}}`;
    from = close + 1;
    re.lastIndex = close + 1;
  }
  return out + s.slice(from);
}

const TRIG_DEGREES =
  /\\(sin|cos|tan|sec|csc|cot)\s*(\()?\s*(-?\d+(?:\.\d+)?)\s*\^\s*(?:\{\s*\\circ\s*\}|\\circ(?![a-zA-Z]))\s*(\))?/g;

/** Removes one layer of surrounding math delimiters, repeatedly. */
function stripMathDelimiters(s: string): string {
  for (;;) {
    const t = s.trim();
    let inner: string | null = null;
    if (t.startsWith('$$') && t.endsWith('$$') && t.length >= 4) inner = t.slice(2, -2);
    else if (t.startsWith('$') && t.endsWith('$') && t.length >= 2) inner = t.slice(1, -1);
    else if (t.startsWith('\\(') && t.endsWith('\\)')) inner = t.slice(2, -2);
    else if (t.startsWith('\\[') && t.endsWith('\\]')) inner = t.slice(2, -2);
    if (inner === null) return t;
    s = inner;
  }
}

/** `a\frac{b}{c}` with integers a, b, c (a mixed number) → `\frac{ac+b}{c}`. */
function mixedNumber(s: string): string {
  const m = /^(-?)(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}$/.exec(s);
  if (m === null) return s;
  const [, sign, whole, num, den] = m;
  const n = BigInt(whole!) * BigInt(den!) + BigInt(num!);
  return `${sign}\\frac{${n}}{${den}}`;
}

/**
 * Canonical LaTeX for an answer. Idempotent: normalizeAnswer(normalizeAnswer(x)) equals
 * normalizeAnswer(x) for every case in the test table.
 */
export function normalizeAnswer(raw: string): string {
  let s = raw;
  for (const [re, to] of UNICODE) s = s.replace(re, to);
  const hadCurrency = /\\\$/.test(s) || new RegExp(CURRENCY.source).test(s);
  s = s.replace(CURRENCY, ' ');
  s = s.replace(/\\\$/g, ' ');
  s = stripMathDelimiters(s);
  s = s.replace(/\$/g, '');
  // Protect line breaks (\\, matrix rows) from the single-backslash rules below.
  s = s.replace(/\\\\/g, '\u0002');
  s = s.replace(/\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![a-zA-Z])/g, '');
  // Sizing: \left( → (, \left. → nothing.
  s = s.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)\s*\./g, '');
  s = s.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![a-zA-Z])/g, '');
  s = s.replace(/\\[dtc]frac(?![a-zA-Z])/g, '\\frac');
  s = s.replace(/\\[dt]binom(?![a-zA-Z])/g, '\\binom');
  s = s.replace(/\\lbrace(?![a-zA-Z])/g, '\\{').replace(/\\rbrace(?![a-zA-Z])/g, '\\}');
  s = s.replace(/\\(?:lvert|rvert|vert)(?![a-zA-Z])/g, '|');
  s = s.replace(/\\(?:leq|leqslant)(?![a-zA-Z])/g, '\\le').replace(/\\(?:geq|geqslant)(?![a-zA-Z])/g, '\\ge');
  s = s.replace(/<=/g, '\\le ').replace(/>=/g, '\\ge ');
  s = s.replace(/\\(?:neq)(?![a-zA-Z])|\\not\s*=|(?<![\d)}!])!=|=\\not|<>/g, '\\ne ');
  s = s.replace(/\\(?:lor|vee)(?![a-zA-Z])/g, ' or ').replace(/\\(?:land|wedge)(?![a-zA-Z])/g, ' and ');
  // Thin spaces carry nothing (10,\!000 and 1\,000 are numbers); wide spaces become spaces.
  s = s.replace(/\\[!,;:>]/g, '');
  s = s.replace(/\\(?:quad|qquad)(?![a-zA-Z])|~|\\ /g, ' ');
  // `{,}` is LaTeX's decimal comma unless three digits follow (then a thousands separator).
  s = s.replace(/\{,\}(?=\d+(?!\d))/g, (m, at: number) => (/^\d{3}(?!\d)/.test(s.slice(at + 3)) ? ',' : '\u0003'));
  s = s.replace(/\{,\}/g, ',');
  // Degrees inside a trig function are an angle: \sin 30^\circ → \sin(\frac{30\pi}{180}).
  s = s.replace(TRIG_DEGREES, (_m, fn: string, open: string | undefined, x: string, close: string | undefined) =>
    (open === undefined) === (close === undefined) ? `\\${fn}(\\frac{${x}\\pi}{180})` : _m,
  );
  // Elsewhere a degree mark is dropped: 45^\circ, 45^{\circ}, \degree.
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])/g, '');
  // Percent (documented choice: 50\% ≡ 50).
  s = s.replace(/\\?%/g, '');
  // Units inside \text{…} (with an optional ^2/^3 after the group) vanish.
  s = replaceCommandArg(s, ['\\text', '\\mbox', '\\mathrm', '\\textrm', '\\textnormal'], (arg, rest) => {
    if (!TEXT_UNIT_RE.test(arg)) return `\\text{${arg}}`.replace(/^\\text/, '\u0000TEXT');
    const power = /^\s*\^\s*(?:\{\s*[23]\s*\}|[23])/.exec(rest);
    return [' ', power === null ? 0 : power[0].length];
  });
  s = s.replace(/\u0000TEXT/g, '\\text');
  // \binom{a}{b} → binomial(a, b), which the evaluator understands.
  s = replaceCommandArg(s, ['\\binom'], (a, rest) => {
    const m = /^\s*\{([^{}]*)\}/.exec(rest);
    if (m === null) return `\u0000BINOM{${a}}`;
    return [`\\operatorname{binomial}(${a},${m[1]})`, m[0].length];
  });
  s = s.replace(/\u0000BINOM/g, '\\binom');
  // Text wrappers keep their content.
  s = replaceCommandArg(s, TEXT_COMMANDS, (arg) => ` ${arg} `);
  s = s.replace(/\\(?:displaystyle)(?![a-zA-Z])/g, '');
  // Bare units at the end ("5 cm", "12 square units"), repeatedly ("3 feet 2"? no: only trailing).
  for (let k = 0; k < 3; k++) {
    const t = s.replace(BARE_UNIT_RE, '');
    if (t === s || t.trim() === '') break;
    s = t;
  }
  // A single-letter or short unit with a power after a number and a space: "5 m^2", "3 cm^3".
  s = s.replace(/(?<=\d)\s+(?:mm|cm|km|m|ft|in|yd)\s*\^\s*\{?\s*[23]\s*\}?\s*$/, '');
  // Shorthand LaTeX: \frac12 → \frac{1}{2}, \sqrt2 → \sqrt{2}, \frac{a}2 → \frac{a}{2}.
  s = s.replace(/\\frac\s*(\d)\s*(\d)/g, '\\frac{$1}{$2}');
  s = s.replace(/\\frac\s*(\{[^{}]*\})\s*(\d)/g, '\\frac$1{$2}');
  s = s.replace(/\\frac\s*(\d)\s*(\{)/g, '\\frac{$1}$2');
  s = s.replace(/\\sqrt\s*(\d)/g, '\\sqrt{$1}');
  s = parenthesizedArguments(s);
  // Plain-text math: sqrt(2) → \sqrt{2}; bare function names and pi become commands.
  s = s.replace(/(?<![\\a-zA-Z])sqrt\s*\(([^()]*)\)/g, '\\sqrt{$1}');
  s = s.replace(/(?<![\\a-zA-Z])(sqrt|sin|cos|tan|ln|log|exp|pi|infty)(?![a-zA-Z])/g, '\\$1');
  s = s.replace(/(?<![\\a-zA-Z])(?:infinity|inf)(?![a-zA-Z])/gi, '\\infty');
  s = s.replace(/\*\*/g, '^').replace(/\*/g, '\\cdot ');
  // Whitespace, trailing punctuation, a leading "=".
  s = s.replace(/\s+/g, ' ').trim();
  s = s.replace(/[\u0002.,;:]+$/g, '').trim();
  s = s.replace(/^=\s*/, '');
  // Thousands separators, only when a number stands alone: 1,000 and 1,234.5 but not (1,2).
  if (/^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s)) s = s.replace(/,/g, '');
  // An unambiguous decimal comma in a number standing alone: `3{,}5`, `3,14159` (four or more
  // decimals; three are a thousands group), or `3,50` with a currency sign. `1,2`, `0,25` and
  // `12,5` stay lists (MATH-style answers write solution lists without spaces).
  const dc = /^([+-]?\d+)[,\u0003](\d+)$/.exec(s);
  if (dc !== null && dc[2]!.length !== 3) {
    const [, whole, frac] = dc as unknown as [string, string, string];
    if (s.includes('\u0003') || frac.length >= 4 || (hadCurrency && frac.length <= 2)) s = `${whole}.${frac}`;
  }
  s = s.replace(/\u0003/g, ',');
  s = s.replace(/\u0002/g, '\\\\');
  s = mixedNumber(s);
  // Multiple choice: (B) → B.
  const choice = /^\(([A-Ea-e])\)$/.exec(s);
  if (choice !== null) s = choice[1]!;
  return s;
}

/**
 * Key for the plain string-equality test: normalized text with insignificant spaces
 * removed and single-character groups unbraced (x^{2} → x^2). A space is kept after a
 * control word followed by a letter, where it is significant (\sin x).
 */
export function comparisonKey(normalized: string): string {
  let s = normalized.replace(/(\\[a-zA-Z]+)\s+(?=[a-zA-Z])/g, '$1\u0001');
  s = s.replace(/\s+/g, '').replace(/\u0001/g, ' ');
  s = s.replace(/([\^_])\{([A-Za-z0-9])\}/g, '$1$2');
  return s;
}
