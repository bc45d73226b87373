/**
 * The reading view: decoded headers, text or sanitized HTML, attachments, and the actions; for a
 * message in Sent, where each recipient's copy is (delivered, queued, deferred, bounced).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, type DeliveryRow, type DeliveryState, type FullMessage, type Template } from './api.js';
import type { ComposeSeed } from './compose.js';
import { folderLabel, t } from './i18n.js';
import { Clip } from './icons.js';
import { MailFrame } from './mail-frame.js';

/** Inline images larger than this stay blocked (they would be data: URLs in the page). */
const MAX_INLINE_IMAGE = 2 * 1024 * 1024;

/**
 * Replaces `cid:` references (RFC 2392) with data: URLs of the message's own inline images, so
 * they show inside the sandbox, whose CSP allows data: images only.
 */
async function inlineCids(id: string, m: FullMessage): Promise<string> {
  let html = m.html ?? '';
  for (const a of m.attachments) {
    if (!a.contentId || !a.contentType.startsWith('image/') || a.size > MAX_INLINE_IMAGE) continue;
    const blob = await (await fetch(`/api/messages/${id}/attachments/${a.index}`)).blob();
    const url = await new Promise<string>((resolve) => {
      const r = new FileReader();
      r.onload = () => resolve(String(r.result).replace(/^data:[^;,]*/, `data:${a.contentType}`));
      r.readAsDataURL(blob);
    });
    const cid = a.contentId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    html = html.replace(new RegExp(`cid:${cid}(?=["'\\s>)])`, 'gi'), url);
  }
  return html;
}

const STATE_LABEL: Record<DeliveryState, Parameters<typeof t>[0]> = {
  delivered: 'state_delivered',
  queued: 'state_queued',
  deferred: 'state_deferred',
  bounced: 'state_bounced',
  failed: 'state_failed',
  unknown: 'state_unknown',
};

/** Per-recipient delivery status of a sent message (GET /api/messages/:id/delivery). */
function DeliveryStatus(props: { id: string }) {
  const [rows, setRows] = useState<DeliveryRow[]>([]);
  const load = () =>
    void api<{ tracked: boolean; recipients: DeliveryRow[] }>('GET', `/api/messages/${props.id}/delivery`)
      .then((r) => setRows(r.recipients))
      .catch(() => setRows([]));
  useEffect(load, [props.id]);
  if (rows.length === 0) return null;
  return (
    <table class="delivery">
      <caption>
        {t('deliveryStatus')}{' '}
        <button type="button" onClick={load}>
          {t('refresh')}
        </button>
      </caption>
      <thead>
        <tr>
          <th scope="col">{t('recipient')}</th>
          <th scope="col">{t('status')}</th>
          <th scope="col">{t('details')}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={i}>
            <td>
              {r.address}
              {r.target && <> → {r.target}</>}
            </td>
            <td class={r.state}>{t(STATE_LABEL[r.state])}</td>
            <td>
              {r.reply}
              {r.state === 'deferred' && r.nextAttemptAt && (
                <> ({t('nextAttempt', { t: new Date(r.nextAttemptAt).toLocaleString() })})</>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Reader(props: {
  id: string;
  boxes: string[];
  onClose: () => void;
  onChanged: (gone: boolean) => void;
  onCompose: (seed: ComposeSeed) => void;
}) {
  const { id } = props;
  const [m, setM] = useState<FullMessage>();
  const [error, setError] = useState('');
  const [html, setHtml] = useState<string | null>(null);

  useEffect(() => {
    setM(undefined);
    api<FullMessage>('GET', `/api/messages/${id}`)
      .then(async (msg) => {
        setM(msg);
        setHtml(msg.html);
        if (msg.html?.includes('cid:')) setHtml(await inlineCids(id, msg));
        if (!msg.flags.includes('\\Seen')) {
          const r = await api<{ flags: string[] }>('POST', `/api/messages/${id}/flags`, { add: ['\\Seen'] });
          setM({ ...msg, flags: r.flags });
          props.onChanged(false);
        }
      })
      .catch((e) => setError(t('error', { e: e.message })));
  }, [id]);

  // Keyboard shortcuts while reading (not while typing): r reply, a reply all, f forward,
  // Delete or # delete, u toggle unread.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const tag = (e.target as HTMLElement).tagName;
      if (
        !m ||
        tag === 'INPUT' ||
        tag === 'TEXTAREA' ||
        tag === 'SELECT' ||
        e.ctrlKey ||
        e.metaKey ||
        e.altKey
      )
        return;
      const k = e.key;
      if (k === 'r' || k === 'a' || k === 'f')
        void template(k === 'r' ? 'reply' : k === 'a' ? 'all' : 'forward');
      else if (k === 'Delete' || k === '#') void act(() => api('DELETE', `/api/messages/${id}`), true);
      else if (k === 'u') void toggleSeen();
      else return;
      e.preventDefault();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  });

  async function template(mode: 'reply' | 'all' | 'forward') {
    const tpl = await api<Template>('GET', `/api/messages/${id}/template?mode=${mode}`);
    props.onCompose(tpl);
  }
  async function act(fn: () => Promise<unknown>, gone: boolean) {
    try {
      await fn();
      props.onChanged(gone);
    } catch (e) {
      setError(t('error', { e: (e as Error).message }));
    }
  }
  async function toggleSeen() {
    if (!m) return;
    const isSeen = m.flags.includes('\\Seen');
    await act(async () => {
      const r = await api<{ flags: string[] }>(
        'POST',
        `/api/messages/${id}/flags`,
        isSeen ? { remove: ['\\Seen'] } : { add: ['\\Seen'] },
      );
      setM({ ...m, flags: r.flags });
    }, false);
  }

  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!m) return null;

  const seen = m.flags.includes('\\Seen');
  const files = m.attachments.filter((a) => !a.inline || !m.html);

  return (
    <article class="reader" aria-label={m.subject || t('noSubject')}>
      <div class="toolbar" role="toolbar">
        <button type="button" class="back" onClick={props.onClose}>
          {t('back')}
        </button>
        <button type="button" onClick={() => void template('reply')}>
          {t('reply')}
        </button>
        <button type="button" onClick={() => void template('all')}>
          {t('replyAll')}
        </button>
        <button type="button" onClick={() => void template('forward')}>
          {t('forward')}
        </button>
        <button type="button" onClick={() => void act(() => api('DELETE', `/api/messages/${id}`), true)}>
          {t('delete')}
        </button>
        <button type="button" onClick={() => void toggleSeen()}>
          {seen ? t('markUnread') : t('markRead')}
        </button>
        <select
          aria-label={t('moveTo')}
          value=""
          onChange={(e) => {
            const to = e.currentTarget.value;
            if (to) void act(() => api('POST', `/api/messages/${id}/move`, { to }), true);
          }}
        >
          <option value="">{t('moveTo')}</option>
          {props.boxes
            .filter((b) => b !== m.mailbox)
            .map((b) => (
              <option key={b} value={b}>
                {folderLabel(b)}
              </option>
            ))}
        </select>
        <a href={`/api/messages/${id}/raw`} target="_blank" rel="noreferrer">
          {t('source')}
        </a>
      </div>
      <h2 class="subject">{m.subject || t('noSubject')}</h2>
      <dl class="headers">
        <dt>{t('from')}</dt>
        <dd>{m.from}</dd>
        <dt>{t('to')}</dt>
        <dd>{m.to}</dd>
        {m.cc && <dt>{t('cc')}</dt>}
        {m.cc && <dd>{m.cc}</dd>}
        <dt>{t('date')}</dt>
        <dd>{new Date(m.date ?? m.receivedAt).toLocaleString()}</dd>
      </dl>
      {m.mailbox === 'Sent' && <DeliveryStatus id={id} />}
      {files.length > 0 && (
        <ul class="attachments" aria-label={t('attachments')}>
          {files.map((a) => (
            <li key={a.index}>
              <a href={`/api/messages/${id}/attachments/${a.index}`} download={a.filename ?? ''}>
                <Clip /> {a.filename ?? a.contentType}
              </a>{' '}
              <span class="size">({Math.ceil(a.size / 1024)} KB)</span>
            </li>
          ))}
        </ul>
      )}
      {html ? (
        <MailFrame html={html} title={m.subject || t('message')} />
      ) : (
        <pre class="text">{m.text ?? ''}</pre>
      )}
    </article>
  );
}
