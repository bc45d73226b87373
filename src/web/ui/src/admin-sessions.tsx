/**
 * The admin's live view of recent SMTP and POP3 sessions: a list (newest first) and the chosen
 * session's transcript as C:/S: lines with times, kept current by the server's event stream.
 * The server masks secrets and never sends message content; this only shows what it gets.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { lang, t } from './i18n.js';

interface SessionSummary {
  id: string;
  protocol: 'smtp' | 'pop3';
  listener: string;
  remoteAddress: string;
  remotePort: number;
  tls: boolean;
  user: string | null;
  startedAt: number;
  endedAt: number | null;
  lineCount: number;
}

interface TracedLine {
  at: number;
  dir: 'C' | 'S';
  text: string;
}

interface TracedSession extends SessionSummary {
  lines: TracedLine[];
  droppedLines: number;
}

type TraceUpdate =
  | { type: 'open'; session: SessionSummary }
  | { type: 'line'; id: string; n: number; line: TracedLine }
  | { type: 'meta'; id: string; tls: boolean; user: string | null }
  | { type: 'close'; id: string; at: number };

interface Limits {
  sessions: number;
  linesPerSession: number;
}

const locale = lang === 'ko' ? 'ko-KR' : undefined;

function clock(ms: number): string {
  const d = new Date(ms);
  const hms = d.toLocaleTimeString(locale, { hour12: false });
  return `${hms}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

export function AdminSessions() {
  const [enabled, setEnabled] = useState<boolean | undefined>(undefined);
  const [sessions, setSessions] = useState<SessionSummary[]>([]);
  const [chosen, setChosen] = useState<TracedSession | undefined>(undefined);
  const [error, setError] = useState('');
  const limits = useRef<Limits>({ sessions: 200, linesPerSession: 200 });
  const chosenId = useRef<string | undefined>(undefined);
  const log = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  const load = useCallback(async () => {
    try {
      const r = await api<{ enabled: boolean; limits?: Limits; sessions: SessionSummary[] }>(
        'GET',
        '/api/admin/sessions',
      );
      if (r.limits) limits.current = r.limits;
      setEnabled(r.enabled);
      setSessions(r.sessions);
      const id = chosenId.current;
      if (id) setChosen(await api<TracedSession>('GET', `/api/admin/sessions/${encodeURIComponent(id)}`));
    } catch (e) {
      setError(t('error', { e: (e as Error).message }));
    }
  }, []);

  const choose = useCallback(async (id: string) => {
    chosenId.current = id;
    stick.current = true;
    try {
      setChosen(await api<TracedSession>('GET', `/api/admin/sessions/${encodeURIComponent(id)}`));
    } catch (e) {
      setError(t('error', { e: (e as Error).message }));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (!enabled) return;
    const es = new EventSource('/api/admin/sessions/stream');
    es.addEventListener('trace', (ev) => {
      const updates = JSON.parse((ev as MessageEvent).data) as TraceUpdate[];
      const max = limits.current;
      setSessions((list) => {
        let next = list;
        for (const u of updates) {
          if (u.type === 'open') next = [u.session, ...next].slice(0, max.sessions);
          else {
            next = next.map((s) => {
              if (s.id !== u.id) return s;
              if (u.type === 'line') return { ...s, lineCount: Math.max(s.lineCount, u.n) };
              if (u.type === 'meta') return { ...s, tls: u.tls, user: u.user };
              return { ...s, endedAt: u.at };
            });
          }
        }
        return next;
      });
      setChosen((c) => {
        if (!c) return c;
        let next = c;
        for (const u of updates) {
          if (u.type === 'open' || u.id !== c.id) continue;
          if (u.type === 'line') {
            // A line the fetch already brought (it raced the stream) is not shown twice.
            if (u.n <= next.lineCount) continue;
            const lines = [...next.lines, u.line];
            const over = Math.max(0, lines.length - max.linesPerSession);
            next = {
              ...next,
              lines: over ? lines.slice(over) : lines,
              droppedLines: next.droppedLines + over,
              lineCount: u.n,
            };
          } else if (u.type === 'meta') next = { ...next, tls: u.tls, user: u.user };
          else next = { ...next, endedAt: u.at };
        }
        return next;
      });
    });
    // The server fell behind this client: start over from a fresh list.
    es.addEventListener('reset', () => void load());
    return () => es.close();
  }, [enabled, load]);

  // Follow new lines while the reader is at the bottom; leave the scroll alone otherwise.
  useEffect(() => {
    const el = log.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [chosen]);

  if (enabled === undefined) return null;
  return (
    <section aria-label={t('sessions')} class="sessions">
      <h3>{t('sessions')}</h3>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {!enabled && <p>{t('traceOff')}</p>}
      {enabled && sessions.length === 0 && <p>{t('noSessions')}</p>}
      {enabled && sessions.length > 0 && (
        <div class="session-panes">
          <ul class="session-list" aria-label={t('sessionList')}>
            {sessions.map((s) => (
              <li key={s.id}>
                <button type="button" aria-pressed={chosen?.id === s.id} onClick={() => void choose(s.id)}>
                  <span class="when">{clock(s.startedAt)}</span>{' '}
                  <span class="proto">
                    {s.protocol.toUpperCase()} ({s.listener}){s.tls ? ' TLS' : ''}
                  </span>{' '}
                  <span class="client">{s.remoteAddress}</span> {s.user && <span class="user">{s.user}</span>}{' '}
                  <span class={s.endedAt === null ? 'state live' : 'state'}>
                    {s.endedAt === null ? t('live') : t('ended')}
                  </span>{' '}
                  <code class="sid">{s.id}</code>
                </button>
              </li>
            ))}
          </ul>
          <div class="transcript-pane">
            {!chosen && <p>{t('selectSession')}</p>}
            {chosen && (
              <>
                <p class="transcript-head">
                  {chosen.protocol.toUpperCase()} <code>{chosen.id}</code> {t('client')}{' '}
                  {chosen.remoteAddress}:{chosen.remotePort}
                  {chosen.user ? ` · ${chosen.user}` : ''}
                </p>
                {chosen.droppedLines > 0 && (
                  <p class="dropped">{t('earlierLines', { n: chosen.droppedLines })}</p>
                )}
                <div
                  class="transcript"
                  role="log"
                  aria-label={t('transcript')}
                  ref={log}
                  onScroll={(e) => {
                    const el = e.currentTarget;
                    stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
                  }}
                >
                  <ol>
                    {chosen.lines.map((l, i) => (
                      <li key={`${l.at}-${i}`} class={l.dir === 'C' ? 'c' : 's'}>
                        <time dateTime={new Date(l.at).toISOString()}>{clock(l.at)}</time>{' '}
                        <span class="dir">{l.dir}:</span> <span class="text">{l.text}</span>
                      </li>
                    ))}
                  </ol>
                </div>
              </>
            )}
          </div>
        </div>
      )}
    </section>
  );
}
