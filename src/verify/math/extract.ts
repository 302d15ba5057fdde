/**
 * Final-answer extraction from a model response.
 *
 * Order of preference:
 *  1. the last `\boxed{…}` or `\fbox{…}` (brace-matched; `\boxed 5` — the command followed by
 *     a space and a bare token — is accepted and takes the token up to the next space or `$`).
 *     Several boxes at the end joined only by connectors (`,` `;` `and` `or` `\quad`, math
 *     delimiters) are one answer, the list of their contents: `\boxed{(2,2)} and \boxed{(6,2)}`
 *     → `(2,2), (6,2)`;
 *  2. else the last explicit answer marker — "the answer is …", "final answer is …",
 *     "Answer: …", or a line that starts with "Answer" / "Final Answer" (markdown bold or a
 *     heading allowed, colon optional) — taking a `$…$` / `\(…\)` / `\[…\]` span if one
 *     follows, else the rest of the line up to a sentence end; a sentence such as "The largest
 *     n is 34" keeps what follows its last " is ";
 *  3. `lenient` mode only: else the last math span of the text (`$…$`, `$$…$$`, `\(…\)`,
 *     `\[…\]`) or the last number, whichever ends later;
 *  4. else nothing.
 * `strict` (the default, for RL whose prompts ask for a box) stops after 2: unboxed prose
 * without a marker earns nothing. If the last box is unclosed (a truncated response),
 * extraction fails rather than falling back to an earlier box: the model's final word is unknown.
 */
import { commandAt, matchBrace } from './latex.js';

export type ExtractionMethod = 'boxed' | 'fbox' | 'answer-is' | 'math-span' | 'last-number' | 'none' | 'unclosed-box';

/** `strict`: a box or an explicit answer marker; `lenient`: also the last math span or number. */
export type ExtractionMode = 'strict' | 'lenient';
export const EXTRACTION_MODES: readonly ExtractionMode[] = ['strict', 'lenient'];

export interface Extraction {
  /** The extracted answer text (untouched LaTeX), or null. */
  answer: string | null;
  /** How it was found. */
  method: ExtractionMethod;
}

const BOX_COMMANDS = ['\\boxed', '\\fbox'] as const;

/** Last occurrence of `\boxed` / `\fbox` as a whole control word: [index, command]. */
function lastBoxCommand(s: string): [number, (typeof BOX_COMMANDS)[number]] | null {
  let best: [number, (typeof BOX_COMMANDS)[number]] | null = null;
  for (const cmd of BOX_COMMANDS) {
    let from = s.length;
    while (from >= 0) {
      const i = s.lastIndexOf(cmd, from);
      if (i < 0) break;
      if (commandAt(s, i, cmd) >= 0) {
        if (best === null || i > best[0]) best = [i, cmd];
        break;
      }
      from = i - 1;
    }
  }
  return best;
}

/** The box command starting at i: its content and the index just past it, or null if unclosed. */
function boxAt(s: string, i: number, cmd: string): { answer: string; end: number } | null {
  let j = i + cmd.length;
  while (j < s.length && /\s/.test(s[j]!)) j++;
  if (s[j] === '{') {
    const close = matchBrace(s, j);
    if (close < 0) return null;
    return { answer: s.slice(j + 1, close).trim(), end: close + 1 };
  }
  // `\boxed 5`: one bare token.
  const m = /^[^\s$]+/.exec(s.slice(j));
  if (m === null) return null;
  return { answer: m[0].replace(/[.,;]+$/, ''), end: j + m[0].length };
}

/** Text allowed between boxes that form one answer: separators, math delimiters, spaces. */
const BOX_CONNECTOR = /^(?:\s|\$|\\[()[\]]|[,;.&]|\\(?:quad|qquad|text\{\s*(?:and|or|,|;)?\s*\}|[,;:! ])|\band\b|\bor\b)*$/i;

function extractBoxed(s: string): Extraction | null {
  const found = lastBoxCommand(s);
  if (found === null) return null;
  const [i, cmd] = found;
  const method = cmd === '\\boxed' ? 'boxed' : 'fbox';
  const last = boxAt(s, i, cmd);
  if (last === null) return { answer: null, method: 'unclosed-box' };
  // Earlier boxes joined to this one only by connectors are part of the same answer.
  const answers = [last.answer];
  let start = i;
  for (let guard = 0; guard < 64; guard++) {
    const prev = lastBoxCommand(s.slice(0, start));
    if (prev === null) break;
    const box = boxAt(s, prev[0], prev[1]);
    if (box === null || box.end > start || !BOX_CONNECTOR.test(s.slice(box.end, start))) break;
    answers.unshift(box.answer);
    start = prev[0];
  }
  return { answer: answers.length === 1 ? answers[0]! : answers.join(', '), method };
}

// "the answer is", "final answer is", "answer:", "Answer :", and a line that starts with
// "Answer" or "Final Answer" (after markdown bold/heading marks), colon optional.
const ANSWER_PHRASE =
  /(?:final\s+answer|the\s+answer)\s*(?:is|:)\s*:?|\banswer\s*:|(?:^|\n)[ \t]*(?:[#>*_]+[ \t]*)?(?:final\s+)?answer\b(?![ \t]+(?:to|of|for|the|is|was|will|should|must|can|may|might|in|key)\b)/gi;

/** Math delimiters a span may use, longest first. */
const SPANS: [string, string][] = [
  ['$$', '$$'],
  ['$', '$'],
  ['\\(', '\\)'],
  ['\\[', '\\]'],
];

/** A sentence such as "The largest n is 34" or "it equals 5" keeps what follows the verb. */
function stripLeadingProse(line: string): string {
  if (!/[a-zA-Z]{3,}\s/.test(line)) return line;
  const m = /^(?:.*\s)?(?:is|are|equals|was|be|=)\s+(.+)$/i.exec(line);
  if (m === null) return line;
  // Only prose before the verb: no digits or LaTeX there, so "x = 2 is ..." is left alone.
  const before = line.slice(0, line.length - m[1]!.length);
  return /[\d\\$]/.test(before) ? line : m[1]!;
}

/** The math span or sentence following an answer phrase. */
function answerAfterPhrase(rest: string): string | null {
  rest = rest.replace(/^[\s*:_#.-]+/, ''); // markdown bold markers, stray colons and dashes
  for (const [open, close] of SPANS) {
    if (rest.startsWith(open)) {
      const end = rest.indexOf(close, open.length);
      if (end < 0) return null;
      return rest.slice(open.length, end).trim();
    }
  }
  let line = rest.split('\n', 1)[0] ?? '';
  // Sentence end: a period followed by whitespace or the end (so 3.5 is kept whole).
  const stop = /\.(?:\s|$)/.exec(line);
  if (stop !== null) line = line.slice(0, stop.index);
  line = line.replace(/\*+/g, '').trim().replace(/[.;,]+$/, '').trim();
  // A math span inside the sentence ("The largest $n$ is $34$"): the last one is the answer.
  const spans = mathSpans(line);
  if (spans.length > 0 && /[a-zA-Z]{3,}/.test(line.replace(/\$[^$]*\$|\\\(.*?\\\)/g, ' '))) return spans[spans.length - 1]!.text;
  line = stripLeadingProse(line);
  return line.length > 0 ? line : null;
}

function extractAnswerPhrase(s: string): Extraction | null {
  let last: RegExpExecArray | null = null;
  ANSWER_PHRASE.lastIndex = 0;
  for (let m = ANSWER_PHRASE.exec(s); m !== null; m = ANSWER_PHRASE.exec(s)) last = m;
  if (last === null) return null;
  const answer = answerAfterPhrase(s.slice(last.index + last[0].length));
  return answer === null ? null : { answer, method: 'answer-is' };
}

interface Span {
  text: string;
  /** Index of the opening delimiter and just past the closing one. */
  start: number;
  end: number;
}

/** Every complete math span ($…$, $$…$$, \(…\), \[…\]) in order, outermost, with its end index. */
function mathSpans(s: string): Span[] {
  const out: Span[] = [];
  let i = 0;
  while (i < s.length) {
    let opened: [string, string] | null = null;
    if (s[i] === '\\' && s[i + 1] === '$') {
      i += 2; // an escaped dollar is a currency sign, not a delimiter
      continue;
    }
    for (const sp of SPANS) if (s.startsWith(sp[0], i)) {
      opened = sp;
      break;
    }
    if (opened === null) {
      i++;
      continue;
    }
    const [open, close] = opened;
    let j = i + open.length;
    let end = -1;
    while (j < s.length) {
      if (s[j] === '\\' && s[j + 1] === '$') {
        j += 2;
        continue;
      }
      if (s.startsWith(close, j)) {
        end = j;
        break;
      }
      j++;
    }
    if (end < 0) break;
    const text = s.slice(i + open.length, end).trim();
    if (text.length > 0) out.push({ text, start: i, end: end + close.length });
    i = end + close.length;
  }
  return out;
}

/** A number: optional sign, digits with optional thousands groups, decimals, or a fraction a/b. */
const NUMBER = /[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*\/\s*\d+(?:\.\d+)?)?(?![\d])/g;

/** Lenient fallback: the last math span or the last number, whichever ends later. */
function extractLenient(s: string): Extraction | null {
  const spans = mathSpans(s);
  const span = spans.length > 0 ? spans[spans.length - 1]! : null;
  // Numbers outside math spans (inside them the span itself is the candidate).
  let num: Span | null = null;
  NUMBER.lastIndex = 0;
  for (let m = NUMBER.exec(s); m !== null; m = NUMBER.exec(s)) {
    const start = m.index;
    const end = start + m[0].length;
    if (spans.some((sp) => start < sp.end && end > sp.start)) continue;
    num = { text: m[0].replace(/\s+/g, ''), start, end };
  }
  if (span === null && num === null) return null;
  if (span !== null && (num === null || span.end >= num.end)) return { answer: span.text, method: 'math-span' };
  return { answer: num!.text, method: 'last-number' };
}

/**
 * Extracts the final answer from a response (see the module comment for the rules).
 * `mode` 'strict' (default) takes a box or an explicit answer marker only.
 */
export function extractAnswer(response: string, mode: ExtractionMode = 'strict'): Extraction {
  const boxed = extractBoxed(response);
  if (boxed !== null) return boxed;
  const phrase = extractAnswerPhrase(response);
  if (phrase !== null) return phrase;
  if (mode === 'lenient') {
    const loose = extractLenient(response);
    if (loose !== null) return loose;
  }
  return { answer: null, method: 'none' };
}
