/**
 * Dates in header fields: RFC 5322 §3.3 date-time, the §4.3 obsolete forms, and what real mail
 * adds on top. Reading never throws; it returns undefined when no date can be made out.
 *
 * Accepted beyond §3.3 (obsolete or seen in the wild): missing day-of-week; two- and three-digit
 * years (§4.3: 00-49 → 20xx, 50-99 → 19xx, three digits + 1900); seconds missing; single-digit
 * hour/minute/second; named zones UT, GMT, UTC, Z and the US zones EST/EDT/CST/CDT/MST/MDT/PST/PDT;
 * military letters, which §4.3 says to read as -0000 because RFC 822 defined them backwards;
 * `+hh:mm` zones; no zone at all (read as UTC); comments and extra whitespace or commas; full month
 * and day names; asctime order `Thu Nov 26 04:05:06 2026`; and ISO 8601 (`2026-11-26T04:05:06Z`).
 * Impossible values (31 Feb, hour 24) give undefined. A leap second (:60) is read as :59.
 */

/** A date-time is about 31 characters; comments make it longer, nothing makes it kilobytes. */
const MAX_DATE_LENGTH = 1000;

const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

/** Zone offsets in minutes east of UTC (RFC 5322 §4.3). */
const ZONES: Record<string, number> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
};

const DAYS = new Set(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

const ISO_RE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;
const TIME_RE = /^(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?$/;
const NUM_ZONE_RE = /^([+-])(\d{2}):?(\d{2})$/;

function stripComments(s: string): string {
  if (!s.includes('(')) return s;
  let out = '';
  let depth = 0;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c && depth > 0) i++;
    else if (c === 0x28) {
      if (depth++ === 0) out += s.slice(from, i) + ' ';
    } else if (c === 0x29 && depth > 0 && --depth === 0) from = i + 1;
  }
  return depth > 0 ? out : out + s.slice(from);
}

/** Parses a Date (or Resent-Date, Received trailer) value; undefined when unreadable. */
export function parseDate(value: string): Date | undefined {
  if (value.length > MAX_DATE_LENGTH) return undefined;
  // obs-FWS may surround the colons of the time (RFC 5322 §4.3, Appendix A.6.3).
  const text = stripComments(value)
    .trim()
    .replace(/\s*:\s*/g, ':');
  if (text === '') return undefined;
  if (ISO_RE.test(text)) {
    const t = Date.parse(text);
    return Number.isNaN(t) ? undefined : new Date(t);
  }
  let day: number | undefined;
  let month: number | undefined;
  let year: number | undefined;
  let time: number[] | undefined;
  let zone: number | undefined;
  for (let tok of text.split(/[\s,]+/)) {
    if (tok === '') continue;
    const lower = tok.toLowerCase();
    // A time glued to its zone: 04:05:06+0000 or 04:05:06Z.
    const glued = /^(\d{1,2}:\d{1,2}(?::\d{1,2})?)([+-]\d{2}:?\d{2}|z)$/i.exec(tok);
    if (glued && time === undefined) {
      tok = glued[1]!;
      const z = parseZone(glued[2]!.toLowerCase());
      if (z !== undefined) zone = z;
    }
    const tm = TIME_RE.exec(tok);
    if (tm && time === undefined) {
      time = [Number(tm[1]), Number(tm[2]), Number(tm[3] ?? 0)];
      continue;
    }
    if (/^\d+$/.test(tok)) {
      if (tok.length >= 3 || (day !== undefined && year === undefined)) {
        if (year !== undefined) return undefined;
        year = Number(tok);
        if (tok.length === 2) year += year < 50 ? 2000 : 1900;
        else if (tok.length === 3) year += 1900;
      } else if (day === undefined) {
        day = Number(tok);
      } else {
        return undefined;
      }
      continue;
    }
    const m = MONTHS[lower.slice(0, 3)];
    if (m !== undefined && month === undefined && /^[a-z]+\.?$/.test(lower)) {
      month = m;
      continue;
    }
    if (DAYS.has(lower.slice(0, 3)) && /^[a-z]+\.?$/.test(lower)) continue;
    if (zone === undefined && time !== undefined) {
      const z = parseZone(lower);
      if (z !== undefined) {
        zone = z;
        continue;
      }
    }
    // Unknown words after the zone ("GMT+0200 (CEST)" forms, "UT+1") are ignored; before it they are not.
    if (time === undefined) return undefined;
  }
  if (day === undefined || month === undefined || year === undefined) return undefined;
  const [h, mi, s] = time ?? [0, 0, 0];
  if (h! > 23 || mi! > 59 || s! > 60) return undefined;
  const ms = Date.UTC(year, month, day, h!, mi!, Math.min(s!, 59));
  const d = new Date(ms);
  if (d.getUTCDate() !== day || d.getUTCMonth() !== month) return undefined;
  return new Date(ms - (zone ?? 0) * 60_000);
}

function parseZone(z: string): number | undefined {
  const n = NUM_ZONE_RE.exec(z);
  if (n) {
    const mins = Number(n[2]) * 60 + Number(n[3]);
    if (Number(n[3]) > 59) return undefined;
    return n[1] === '-' ? -mins : mins;
  }
  const named = ZONES[z];
  if (named !== undefined) return named;
  // Military zones (one letter except J): §4.3 says to treat them as -0000.
  if (z.length === 1 && z >= 'a' && z <= 'z' && z !== 'j') return 0;
  const gmt = /^(?:gmt|utc|ut)([+-]\d{2}:?\d{2})$/.exec(z);
  return gmt ? parseZone(gmt[1]!) : undefined;
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function two(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** RFC 5322 §3.3 date-time in UTC: `Thu, 26 Nov 2026 04:05:06 +0000`. Throws on an invalid Date. */
export function formatDate(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new RangeError('formatDate: invalid Date');
  return (
    DAY_NAMES[d.getUTCDay()] +
    ', ' +
    two(d.getUTCDate()) +
    ' ' +
    MONTH_NAMES[d.getUTCMonth()] +
    ' ' +
    String(d.getUTCFullYear()).padStart(4, '0') +
    ' ' +
    two(d.getUTCHours()) +
    ':' +
    two(d.getUTCMinutes()) +
    ':' +
    two(d.getUTCSeconds()) +
    ' +0000'
  );
}
