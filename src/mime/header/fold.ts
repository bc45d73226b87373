/**
 * Header folding for output (RFC 5322 §2.2.3, §2.1.1).
 *
 * A fold is a CRLF inserted before existing whitespace, so unfolding gives back the value exactly.
 * Lines are kept to `maxLine` (78) where a whitespace allows it; a single word longer than 998
 * characters (which no valid header has) is cut hard, which adds a space on unfolding — the only
 * way to keep the line limit. Folds never fall inside an RFC 2047 encoded word. Line breaks inside
 * the value that are not folds become spaces, so a value can never inject a new header field.
 */

/** RFC 5322 §2.1.1: each line SHOULD be no more than 78 characters. */
export const DEFAULT_FOLD_LENGTH = 78;
/** RFC 5322 §2.1.1: each line MUST be no more than 998 characters. */
export const HARD_LINE_LIMIT = 998;

/** Returns `Name: value` folded with CRLF + whitespace; no trailing CRLF. */
export function foldHeader(name: string, value: string, maxLine = DEFAULT_FOLD_LENGTH): string {
  // Existing folds are undone; any other CR/LF would end the field early, so it becomes a space.
  const v = value.replace(/\r?\n(?=[ \t])/g, '').replace(/\r\n|[\r\n]/g, ' ');
  const head = name + ': ';
  if (head.length + v.length <= maxLine) return head + v;
  const lines: string[] = [];
  let line = head;
  let lineHasWord = false;
  let i = 0;
  const n = v.length;
  while (i < n) {
    // A segment is the whitespace before a word plus the word itself.
    let j = i;
    while (j < n && isWsp(v.charCodeAt(j))) j++;
    let k = j;
    while (k < n && !isWsp(v.charCodeAt(k))) k++;
    const seg = v.slice(i, k);
    if (lineHasWord && i < j && line.length + seg.length > maxLine) {
      lines.push(line);
      line = '';
      lineHasWord = false;
    }
    if (line.length + seg.length > HARD_LINE_LIMIT) {
      // Only reachable for a word longer than a whole line: cut it outside encoded words.
      let rest = seg;
      while (line.length + rest.length > HARD_LINE_LIMIT) {
        const cut = safeCut(rest, Math.max(1, HARD_LINE_LIMIT - line.length));
        lines.push(line + rest.slice(0, cut));
        line = ' ';
        rest = rest.slice(cut);
      }
      line += rest;
    } else {
      line += seg;
    }
    if (j < k) lineHasWord = true;
    i = k;
  }
  lines.push(line);
  return lines.join('\r\n');
}

function isWsp(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** A cut position ≤ max that does not fall inside an `=?...?=` word (when one fits before it). */
function safeCut(s: string, max: number): number {
  const open = s.lastIndexOf('=?', max - 1);
  if (open > 0) {
    const close = s.indexOf('?=', open + 2);
    if (close >= 0 && close + 2 > max) return open;
  }
  return max;
}
