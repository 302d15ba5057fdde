/**
 * Small LaTeX string utilities shared by extraction and normalization: brace matching,
 * command-argument rewriting and depth-aware splitting. All are single left-to-right
 * scans (no backtracking regexes), so their cost is linear in the input.
 */

/**
 * Index of the `}` closing the group opened at `s[open] === '{'`, or -1 if unbalanced.
 * Escaped braces `\{` `\}` are literal characters, not group delimiters.
 */
export function matchBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++; // skip the escaped character (\{, \}, \\, or the first letter of a command)
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/**
 * Finds `\name` at position i as a whole control word (not a prefix of a longer one, so
 * `\text` does not match `\textbf`). Returns the index just past the name, or -1.
 */
export function commandAt(s: string, i: number, name: string): number {
  if (!s.startsWith(name, i)) return -1;
  const end = i + name.length;
  if (/[a-zA-Z]/.test(s[end] ?? '')) return -1;
  return end;
}

/**
 * Replaces every `\cmd{arg}` (for cmd in `names`, each given with its backslash) by
 * `replace(arg, rest)`; `rest` is the text after the group, and `replace` may return
 * [replacement, charsOfRestConsumed] to swallow a suffix such as `^2`. Nested occurrences
 * are handled because scanning resumes at the start of the replacement.
 */
export function replaceCommandArg(
  s: string,
  names: readonly string[],
  replace: (arg: string, rest: string) => string | [string, number],
): string {
  let i = 0;
  let guard = 0;
  while (i < s.length) {
    if (++guard > 100_000) break; // defensive: replacements always shrink or advance
    if (s[i] !== '\\') {
      i++;
      continue;
    }
    let matched = false;
    for (const name of names) {
      const end = commandAt(s, i, name);
      if (end < 0) continue;
      let j = end;
      while (s[j] === ' ') j++;
      if (s[j] !== '{') continue;
      const close = matchBrace(s, j);
      if (close < 0) continue;
      const arg = s.slice(j + 1, close);
      const rest = s.slice(close + 1);
      const r = replace(arg, rest);
      const [text, consumed] = typeof r === 'string' ? [r, 0] : r;
      s = s.slice(0, i) + text + rest.slice(consumed);
      matched = true;
      break;
    }
    if (!matched) i++;
  }
  return s;
}

/** Opening and closing brackets for depth counting; `\{` and `\}` count as brackets too. */
function bracketDelta(s: string, i: number): [delta: number, width: number] {
  const c = s[i];
  if (c === '\\') {
    const n = s[i + 1];
    if (n === '{') return [1, 2];
    if (n === '}') return [-1, 2];
    return [0, 2]; // skip the escaped char / first command letter
  }
  if (c === '(' || c === '[' || c === '{') return [1, 1];
  if (c === ')' || c === ']' || c === '}') return [-1, 1];
  return [0, 1];
}

/**
 * Splits `s` at depth-0 occurrences of any separator in `seps` (literal strings, tried in
 * order). Brackets of every kind — (), [], {}, \{\} — count as one depth so that half-open
 * intervals like `(1,2]` nest correctly.
 */
export function splitTopLevel(s: string, seps: readonly string[]): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let i = 0;
  while (i < s.length) {
    if (depth === 0) {
      const sep = seps.find((x) => s.startsWith(x, i) && !(x.startsWith('\\') && /[a-zA-Z]/.test(s[i + x.length] ?? '')));
      if (sep !== undefined) {
        parts.push(s.slice(start, i));
        i += sep.length;
        start = i;
        continue;
      }
    }
    const [d, w] = bracketDelta(s, i);
    depth += d;
    if (depth < 0) depth = 0; // tolerate stray closers
    i += w;
  }
  parts.push(s.slice(start));
  return parts;
}

/**
 * If the whole of `s` is one bracketed group — its first bracket closes exactly at the last
 * character — returns [opener, inner, closer]; otherwise null. Handles `\{…\}` as well.
 */
export function outerBrackets(s: string): [string, string, string] | null {
  const escapedBrace = s.startsWith('\\{');
  if (!escapedBrace && !'(['.includes(s[0] ?? 'x')) return null;
  let depth = 0;
  let i = 0;
  while (i < s.length) {
    const [d, w] = bracketDelta(s, i);
    depth += d;
    i += w;
    if (depth === 0) {
      if (i !== s.length) return null;
      const openW = escapedBrace ? 2 : 1;
      const closeW = escapedBrace ? 2 : 1;
      const closer = s.slice(s.length - closeW);
      if (escapedBrace && closer !== '\\}') return null;
      if (!escapedBrace && !')]'.includes(closer)) return null;
      return [s.slice(0, openW), s.slice(openW, s.length - closeW), closer];
    }
  }
  return null;
}
