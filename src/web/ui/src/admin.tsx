/**
 * The admin console: domains (with the DKIM record to publish), users, aliases, the outbound
 * queue and recent SMTP/POP3 sessions (admin accounts only; the API enforces it).
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { AdminSessions } from './admin-sessions.js';
import { api } from './api.js';
import { t } from './i18n.js';

interface DkimRecord {
  selector: string;
  name: string;
  value: string;
  zone: string;
}

interface Domain {
  name: string;
  dkim: DkimRecord | null;
}

/** Copies text, saying so for screen readers too; falls back to selecting it for Ctrl+C. */
function CopyButton({ text, label, target }: { text: string; label: string; target: string }) {
  const [done, setDone] = useState(false);
  return (
    <>
      <button
        type="button"
        aria-label={label}
        onClick={() => {
          const select = () => {
            const el = document.getElementById(target);
            if (el) window.getSelection()?.selectAllChildren(el);
          };
          if (navigator.clipboard) {
            navigator.clipboard.writeText(text).then(() => setDone(true), select);
          } else select();
        }}
      >
        {t('copy')}
      </button>
      <span role="status" class="copied">
        {done ? t('copied') : ''}
      </span>
    </>
  );
}

function DkimView({ d, onKey }: { d: Domain; onKey: (rotate: boolean) => void }) {
  const k = d.dkim;
  if (!k) {
    return (
      <div class="dkim">
        <span class="muted">{t('noDkim')}</span>{' '}
        <button type="button" aria-label={`${t('dkimCreate')} ${d.name}`} onClick={() => onKey(false)}>
          {t('dkimCreate')}
        </button>
      </div>
    );
  }
  const id = `dkim-${d.name}`;
  return (
    <div class="dkim">
      <p class="muted">{t('dkimRecord')}</p>
      <dl id={id}>
        <dt>{t('name')}</dt>
        <dd>
          <code>{k.name}</code>
        </dd>
        <dt>TXT</dt>
        <dd>
          <code>{k.value}</code>
        </dd>
      </dl>
      <CopyButton text={k.zone} label={`${t('copy')} ${k.name}`} target={id} />{' '}
      <button
        type="button"
        aria-label={`${t('dkimRotate')} ${d.name}`}
        onClick={() => {
          if (window.confirm(t('dkimRotateConfirm', { d: d.name }))) onKey(true);
        }}
      >
        {t('dkimRotate')}
      </button>
    </div>
  );
}

interface QueueEntry {
  id: string;
  mailFrom: string;
  nextAttemptAt: string;
  recipients: Array<{
    address: string;
    state: string;
    attempts: number;
    last: { status: string; diagnostic: string } | null;
  }>;
}

interface Data {
  queue: QueueEntry[];
  domains: Domain[];
  dkimAvailable: boolean;
  users: Array<{ address: string; isAdmin: boolean }>;
  aliases: Array<{ address: string; targets: string[] }>;
}

export function Admin() {
  const [data, setData] = useState<Data>({
    domains: [],
    dkimAvailable: false,
    users: [],
    aliases: [],
    queue: [],
  });
  const [error, setError] = useState('');
  const [domain, setDomain] = useState('');
  const [user, setUser] = useState({ address: '', password: '', isAdmin: false });
  const [alias, setAlias] = useState({ address: '', targets: '' });

  const load = useCallback(async () => {
    const [d, u, a, q] = await Promise.all([
      api<Pick<Data, 'domains' | 'dkimAvailable'>>('GET', '/api/admin/domains'),
      api<Pick<Data, 'users'>>('GET', '/api/admin/users'),
      api<Pick<Data, 'aliases'>>('GET', '/api/admin/aliases'),
      api<{ entries: QueueEntry[] }>('GET', '/api/admin/queue'),
    ]);
    setData({
      domains: d.domains,
      dkimAvailable: d.dkimAvailable,
      users: u.users,
      aliases: a.aliases,
      queue: q.entries,
    });
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const run = async (p: Promise<unknown>) => {
    setError('');
    try {
      await p;
      await load();
    } catch (e) {
      setError(t('error', { e: (e as Error).message }));
    }
  };
  const del = (what: string, name: string) => (
    <button
      type="button"
      aria-label={`${t('delete')} ${name}`}
      onClick={() => void run(api('DELETE', `/api/admin/${what}/${encodeURIComponent(name)}`))}
    >
      {t('delete')}
    </button>
  );

  return (
    <div class="admin">
      <h2>{t('admin')}</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <section aria-label={t('domains')}>
        <h3>{t('domains')}</h3>
        <ul>
          {data.domains.map((d) => (
            <li key={d.name}>
              {d.name} {del('domains', d.name)}
              {data.dkimAvailable && (
                <DkimView
                  d={d}
                  onKey={(rotate) =>
                    void run(api('POST', `/api/admin/domains/${encodeURIComponent(d.name)}/dkim`, { rotate }))
                  }
                />
              )}
            </li>
          ))}
        </ul>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void run(api('POST', '/api/admin/domains', { name: domain })).then(() => setDomain(''));
          }}
        >
          <input
            aria-label={t('domains')}
            value={domain}
            onInput={(e) => setDomain(e.currentTarget.value)}
            required
          />
          <button type="submit">{t('add')}</button>
        </form>
      </section>
      <section aria-label={t('users')}>
        <h3>{t('users')}</h3>
        <ul>
          {data.users.map((u) => (
            <li key={u.address}>
              {u.address} {u.isAdmin ? `(${t('isAdmin')})` : ''} {del('users', u.address)}
            </li>
          ))}
        </ul>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void run(api('POST', '/api/admin/users', user)).then(() =>
              setUser({ address: '', password: '', isAdmin: false }),
            );
          }}
        >
          <input
            aria-label={t('address')}
            placeholder={t('address')}
            value={user.address}
            onInput={(e) => setUser({ ...user, address: e.currentTarget.value })}
            required
          />
          <input
            aria-label={t('password')}
            placeholder={t('password')}
            type="password"
            autocomplete="new-password"
            value={user.password}
            onInput={(e) => setUser({ ...user, password: e.currentTarget.value })}
            required
          />
          <label class="check">
            <input
              type="checkbox"
              checked={user.isAdmin}
              onChange={(e) => setUser({ ...user, isAdmin: e.currentTarget.checked })}
            />
            {t('isAdmin')}
          </label>
          <button type="submit">{t('add')}</button>
        </form>
      </section>
      <section aria-label={t('aliases')}>
        <h3>{t('aliases')}</h3>
        <ul>
          {data.aliases.map((a) => (
            <li key={a.address}>
              {a.address} → {a.targets.join(', ')} {del('aliases', a.address)}
            </li>
          ))}
        </ul>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const targets = alias.targets
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean);
            void run(api('POST', '/api/admin/aliases', { address: alias.address, targets })).then(() =>
              setAlias({ address: '', targets: '' }),
            );
          }}
        >
          <input
            aria-label={t('address')}
            placeholder={t('address')}
            value={alias.address}
            onInput={(e) => setAlias({ ...alias, address: e.currentTarget.value })}
            required
          />
          <input
            aria-label={t('targets')}
            placeholder={t('targets')}
            value={alias.targets}
            onInput={(e) => setAlias({ ...alias, targets: e.currentTarget.value })}
            required
          />
          <button type="submit">{t('add')}</button>
        </form>
      </section>
      <section aria-label={t('queue')}>
        <h3>{t('queue')}</h3>
        {data.queue.length === 0 && <p>{t('emptyQueue')}</p>}
        <ul>
          {data.queue.map((e) => (
            <li key={e.id}>
              <code>{e.id}</code> {e.mailFrom || '<>'} →{' '}
              {e.recipients.map((r) => (
                <span key={r.address} class={`rcpt ${r.state}`}>
                  {r.address} ({r.state}
                  {r.last ? `, ${r.last.status} ${r.last.diagnostic}` : ''}){' '}
                </span>
              ))}
              <button
                type="button"
                onClick={() => void run(api('POST', `/api/admin/queue/${e.id}/retry`, {}))}
              >
                {t('retry')}
              </button>{' '}
              {del('queue', e.id)}
            </li>
          ))}
        </ul>
      </section>
      <AdminSessions />
    </div>
  );
}
