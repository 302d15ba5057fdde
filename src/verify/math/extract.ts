/**
 * Final-answer extraction from a model response.
 *
 * Order of preference:
 *  1. the last `\boxed{…}` or `\fbox{…}` (brace-matched; `\boxed 5` — the command followed by
 *     a space and a bare token — is accepted and takes the token up to the next space or `$`);
 *  2. else the last "the answer is …" / "final answer is …" / "Answer: …" phrase, taking a
 *     `$…$` / `\(…\)` / `\[…\]` span if one follows, else the rest of the line up to a
 *     sentence end;
 *  3. else nothing.
 * If the last box is unclosed (a truncated response), extraction fails rather than falling
 * back to an earlier box: the model's final word is unknown.
 */
import { commandAt, matchBrace } from './latex.js';

export type ExtractionMethod = 'boxed' | 'fbox' | 'answer-is' | 'none' | 'unclosed-box';

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

function extractBoxed(s: string): Extraction | null {
  const found = lastBoxCommand(s);
  if (found === null) return null;
  const [i, cmd] = found;
  const method = cmd === '\\boxed' ? 'boxed' : 'fbox';
  let j = i + cmd.length;
  while (j < s.length && /\s/.test(s[j]!)) j++;
  if (s[j] === '{') {
    const close = matchBrace(s, j);
    if (close < 0) return { answer: null, method: 'unclosed-box' };
    return { answer: s.slice(j + 1, close).trim(), method };
  }
  // `\boxed 5`: one bare token.
  const m = /^[^\s$]+/.exec(s.slice(j));
  if (m === null) return { answer: null, method: 'unclosed-box' };
  return { answer: m[0].replace(/[.,;]+$/, ''), method };
}

// "the answer is", "final answer is", "answer:", "Answer :" and markdown-bold variants.
const ANSWER_PHRASE = /(?:final\s+answer|the\s+answer)\s*(?:is|:)\s*:?|\banswer\s*:/gi;

/** The math span or sentence following an answer phrase. */
function answerAfterPhrase(rest: string): string | null {
  rest = rest.replace(/^[\s*:]+/, ''); // markdown bold markers and stray colons
  const spans: [string, string][] = [
    ['$$', '$$'],
    ['$', '$'],
    ['\\(', '\\)'],
    ['\\[', '\\]'],
  ];
  for (const [open, close] of spans) {
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

/** Extracts the final answer from a response (see the module comment for the rules). */
export function extractAnswer(response: string): Extraction {
  const boxed = extractBoxed(response);
  if (boxed !== null) return boxed;
  const phrase = extractAnswerPhrase(response);
  if (phrase !== null) return phrase;
  return { answer: null, method: 'none' };
}
