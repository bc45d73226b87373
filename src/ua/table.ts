/**
 * Fixed-width text tables for the terminal, measured in display columns (Unicode East Asian
 * Width via string-width), so Korean, Chinese and Japanese text, which takes two columns per
 * character, stays aligned with Latin text. Control characters in cell text are replaced, so a
 * hostile Subject cannot move the cursor or change colours.
 */
import stringWidth from 'string-width';

export interface Column {
  title: string;
  /** Fixed width, or the share of the remaining width ('flex' columns split what is left). */
  width: number | 'flex';
  align?: 'left' | 'right';
}

/** C0/C1 controls and DEL become a visible replacement; tabs and newlines become spaces. */
export function sanitize(text: string): string {
  return text.replace(/[\t\r\n]+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd');
}

/**
 * Cuts `text` to at most `width` columns (ending in `~` when cut) and pads it to exactly `width`.
 * Not "…": it is East Asian Ambiguous width, two columns in many Korean and Japanese terminals.
 */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  let s = sanitize(text);
  let w = stringWidth(s);
  if (w > width) {
    let out = '';
    let used = 0;
    for (const ch of s) {
      const cw = stringWidth(ch);
      if (used + cw > width - 1) break;
      out += ch;
      used += cw;
    }
    s = `${out}~`;
    w = used + 1;
  }
  const pad = ' '.repeat(Math.max(0, width - w));
  return align === 'right' ? pad + s : s + pad;
}

/** Renders rows under a header line; every line is exactly `totalWidth` columns or less. */
export function renderTable(columns: Column[], rows: string[][], totalWidth: number): string {
  const gap = 1;
  const fixed = columns.reduce((s, c) => s + (c.width === 'flex' ? 0 : c.width), 0);
  const flexCount = columns.filter((c) => c.width === 'flex').length;
  const rest = Math.max(flexCount * 10, totalWidth - fixed - gap * (columns.length - 1));
  const widths = columns.map((c) => (c.width === 'flex' ? Math.floor(rest / flexCount) : c.width));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => fit(cell, widths[i]!, columns[i]!.align))
      .join(' '.repeat(gap))
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...rows.map(line)].join('\n') + '\n';
}

/** 1234 → "1.2K", for the size column. */
export function humanSize(octets: number): string {
  if (octets < 1000) return `${octets}`;
  const units = ['K', 'M', 'G'];
  let v = octets;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[u]}`;
}
