/**
 * The webmail: login, folders, a paged message list (the server pages, so 10 000 messages cost
 * one page), the reading view, compose, and new mail through server-sent events.
 */
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { Admin } from './admin.js';
import { ApiError, api, type MailboxInfo, type Me, type Summary, setCsrf } from './api.js';
import { Compose, type ComposeSeed } from './compose.js';
import { folderLabel, lang, t } from './i18n.js';
import { Clip } from './icons.js';
import { Reader } from './reader.js';
import { Settings } from './settings.js';
import './style.css';

const PAGE = 50;
/** How long a notice stays up. */
const NOTE_MS = 4000;

function Login({ onLogin }: { onLogin: (me: Me) => void }) {
  const [address, setAddress] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  return (
    <main class="login">
      <form
        aria-label={t('login')}
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            const me = await api<Me>('POST', '/api/login', { address, password });
            onLogin(me);
          } catch (err) {
            setError(err instanceof ApiError && err.status === 429 ? t('tooMany') : t('loginFailed'));
          }
        }}
      >
        <h1>{t('appName')}</h1>
        <label>
          {t('address')}
          <input
            name="address"
            type="text"
            autocomplete="username"
            value={address}
            onInput={(e) => setAddress(e.currentTarget.value)}
            required
          />
        </label>
        <label>
          {t('password')}
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit">{t('login')}</button>
      </form>
    </main>
  );
}

function formatDate(iso: string): string {
  const d = new Date(iso);
  const today = new Date();
  const locale = lang === 'ko' ? 'ko-KR' : undefined;
  return d.toDateString() === today.toDateString()
    ? d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleDateString(locale);
}

export function humanSize(n: number): string {
  return n < 1024
    ? `${n} B`
    : n < 1024 * 1024
      ? `${Math.round(n / 1024)} KB`
      : `${(n / 1048576).toFixed(1)} MB`;
}

function MessageList(props: {
  messages: Summary[];
  total: number;
  offset: number;
  selected?: string;
  onOpen: (id: string) => void;
  onPage: (offset: number) => void;
}) {
  const { messages, total, offset } = props;
  if (total === 0) return <p class="empty">{t('noMessages')}</p>;
  return (
    <div class="list">
      <ul aria-label={t('folders')} class="messages">
        {messages.map((m) => {
          const unread = !m.flags.includes('\\Seen');
          return (
            <li key={m.id} class={`${unread ? 'unread' : ''}${props.selected === m.id ? ' selected' : ''}`}>
              <button type="button" onClick={() => props.onOpen(m.id)} data-id={m.id}>
                <span class="from">{m.from || m.to}</span>
                <span class="date">{formatDate(m.date)}</span>
                <span class="subject">
                  {unread && <span class="sr-only">{t('unread')} </span>}
                  {m.subject || t('noSubject')}
                </span>
                <span class="meta">
                  {m.hasAttachments && <Clip label={t('hasAttachment')} />} {humanSize(m.size)}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
      <nav class="pager" aria-label={t('page', { a: offset + 1, b: offset + messages.length, n: total })}>
        <button
          type="button"
          disabled={offset === 0}
          onClick={() => props.onPage(Math.max(0, offset - PAGE))}
        >
          {t('previous')}
        </button>
        <span>{t('page', { a: offset + 1, b: offset + messages.length, n: total })}</span>
        <button type="button" disabled={offset + PAGE >= total} onClick={() => props.onPage(offset + PAGE)}>
          {t('next')}
        </button>
      </nav>
    </div>
  );
}

function Mail({ me, onLogout }: { me: Me; onLogout: () => void }) {
  const [boxes, setBoxes] = useState<MailboxInfo[]>([]);
  const [box, setBox] = useState('INBOX');
  const [list, setList] = useState<{ total: number; offset: number; messages: Summary[] }>({
    total: 0,
    offset: 0,
    messages: [],
  });
  const [offset, setOffset] = useState(0);
  const [query, setQuery] = useState('');
  const [search, setSearch] = useState('');
  const [open, setOpen] = useState<string>();
  const [compose, setCompose] = useState<ComposeSeed>();
  const [note, setNote] = useState('');
  const [view, setView] = useState<'mail' | 'settings' | 'admin'>('mail');

  const uidNext = useRef(new Map<string, number>());
  const loadBoxes = useCallback(async () => {
    const r = await api<{ mailboxes: MailboxInfo[] }>('GET', '/api/mailboxes');
    for (const b of r.mailboxes) if (!uidNext.current.has(b.name)) uidNext.current.set(b.name, b.uidNext);
    setBoxes(r.mailboxes);
  }, []);

  useEffect(() => {
    if (!note) return;
    const timer = setTimeout(() => setNote(''), NOTE_MS);
    return () => clearTimeout(timer);
  }, [note]);
  const loadList = useCallback(async () => {
    const q = new URLSearchParams({ offset: String(offset), limit: String(PAGE) });
    if (search) q.set('q', search);
    const r = await api<{ total: number; offset: number; messages: Summary[] }>(
      'GET',
      `/api/mailboxes/${encodeURIComponent(box)}/messages?${q}`,
    );
    setList(r);
  }, [box, offset, search]);

  useEffect(() => {
    void loadBoxes();
  }, [loadBoxes]);
  useEffect(() => {
    void loadList();
  }, [loadList]);

  // New mail without reloading: the server pushes mailbox changes.
  useEffect(() => {
    const es = new EventSource('/api/events');
    es.addEventListener('mailbox', (ev) => {
      const data = JSON.parse((ev as MessageEvent).data) as { name: string; uidNext: number };
      void loadBoxes();
      if (data.name === box) void loadList();
      // Only arrivals (a new uid) are news; flag changes and moves are not.
      const before = uidNext.current.get(data.name);
      uidNext.current.set(data.name, data.uidNext);
      if (data.name === 'INBOX' && before !== undefined && data.uidNext > before) setNote(t('newMail'));
    });
    return () => es.close();
  }, [box, loadBoxes, loadList]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const tag = (e.target as HTMLElement).tagName;
      if (tag === 'INPUT' || tag === 'TEXTAREA' || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === 'c' && !compose) {
        e.preventDefault();
        setCompose({});
      } else if (e.key === '/') {
        e.preventDefault();
        document.getElementById('search')?.focus();
      } else if (e.key === 'Escape') {
        setOpen(undefined);
      } else if (e.key === 'j' || e.key === 'k') {
        // Next / previous message in the list.
        const ids = list.messages.map((m) => m.id);
        const i = open ? ids.indexOf(open) : -1;
        const next = ids[e.key === 'j' ? i + 1 : Math.max(0, i - 1)];
        if (next) setOpen(next);
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [compose, list, open]);

  const refresh = () => {
    void loadBoxes();
    void loadList();
  };

  const openMessage = async (id: string) => {
    if (box === 'Drafts') {
      const m = await api<{ to: string; cc: string; subject: string; text: string | null }>(
        'GET',
        `/api/messages/${id}`,
      );
      setCompose({ to: m.to, cc: m.cc, subject: m.subject, text: m.text ?? '', draftId: id });
      return;
    }
    setOpen(id);
  };

  return (
    <div class={`shell${open ? ' reading' : ''}${compose ? ' composing' : ''}`}>
      <header>
        <h1>{t('appName')}</h1>
        <form
          aria-label={t('search')}
          onSubmit={(e) => {
            e.preventDefault();
            setOffset(0);
            setSearch(query.trim());
          }}
        >
          <input
            id="search"
            type="search"
            aria-label={t('search')}
            placeholder={t('searchPlaceholder')}
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
          />
        </form>
        <span class="me">{me.address}</span>
        <button
          type="button"
          aria-pressed={view === 'settings'}
          onClick={() => setView(view === 'settings' ? 'mail' : 'settings')}
        >
          {view === 'settings' ? t('mail') : t('settings')}
        </button>
        {me.isAdmin && (
          <button
            type="button"
            aria-pressed={view === 'admin'}
            onClick={() => setView(view === 'admin' ? 'mail' : 'admin')}
          >
            {view === 'admin' ? t('mail') : t('admin')}
          </button>
        )}
        <button
          type="button"
          onClick={async () => {
            await api('POST', '/api/logout', {}).catch(() => {});
            onLogout();
          }}
        >
          {t('logout')}
        </button>
      </header>
      <nav class="folders" aria-label={t('folders')}>
        <button type="button" class="primary" onClick={() => setCompose({})}>
          {t('compose')}
        </button>
        <ul>
          {boxes.map((b) => (
            <li key={b.name}>
              <button
                type="button"
                aria-current={b.name === box ? 'page' : undefined}
                onClick={() => {
                  setBox(b.name);
                  setOffset(0);
                  setOpen(undefined);
                  setView('mail');
                }}
              >
                {folderLabel(b.name)}
                {b.unseen > 0 && <span class="badge">{b.unseen}</span>}
              </button>
            </li>
          ))}
        </ul>
        <button
          type="button"
          onClick={async () => {
            const name = prompt(t('folderName'));
            if (name) {
              await api('POST', '/api/mailboxes', { name }).catch((e) =>
                setNote(t('error', { e: e.message })),
              );
              void loadBoxes();
            }
          }}
        >
          {t('newFolder')}
        </button>
      </nav>
      {view === 'settings' && (
        <section class="page">
          <Settings />
        </section>
      )}
      {view === 'admin' && (
        <section class="page">
          <Admin />
        </section>
      )}
      {view === 'mail' && (
        <>
          <section class="listpane" aria-label={folderLabel(box)}>
            <h2>{folderLabel(box)}</h2>
            <MessageList
              messages={list.messages}
              total={list.total}
              offset={list.offset}
              selected={open}
              onOpen={(id) => void openMessage(id)}
              onPage={setOffset}
            />
          </section>
          <section class="readpane">
            {compose ? (
              <Compose
                seed={compose}
                onDone={(n) => {
                  setCompose(undefined);
                  if (n) setNote(n);
                  refresh();
                }}
              />
            ) : open ? (
              <Reader
                id={open}
                boxes={boxes.map((b) => b.name)}
                onClose={() => setOpen(undefined)}
                onChanged={(gone) => {
                  if (gone) setOpen(undefined);
                  refresh();
                }}
                onCompose={setCompose}
              />
            ) : (
              <p class="empty">{t('selectMessage')}</p>
            )}
          </section>
        </>
      )}
      {note && (
        <div class="toast" role="status">
          {note}
        </div>
      )}
    </div>
  );
}

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  useEffect(() => {
    document.documentElement.lang = lang;
    api<Me>('GET', '/api/me')
      .then((m) => {
        setCsrf(m.csrfToken);
        setMe(m);
      })
      .catch(() => setMe(null));
  }, []);
  if (me === undefined) return null;
  if (me === null)
    return (
      <Login
        onLogin={(m) => {
          setCsrf(m.csrfToken);
          setMe(m);
        }}
      />
    );
  return <Mail me={me} onLogout={() => setMe(null)} />;
}

render(<App />, document.getElementById('app')!);
