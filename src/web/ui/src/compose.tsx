/** The compose form: to/cc/bcc, subject, text, attachments (picker and drag-and-drop), drafts. */
import { useRef, useState } from 'preact/hooks';
import { api, type Template } from './api.js';
import { t } from './i18n.js';

export interface ComposeSeed extends Partial<Template> {
  bcc?: string;
  draftId?: string;
}

export function Compose({ seed, onDone }: { seed: ComposeSeed; onDone: (note?: string) => void }) {
  const [to, setTo] = useState(seed.to ?? '');
  const [cc, setCc] = useState(seed.cc ?? '');
  const [bcc, setBcc] = useState(seed.bcc ?? '');
  const [subject, setSubject] = useState(seed.subject ?? '');
  const [text, setText] = useState(seed.text ?? '');
  const [files, setFiles] = useState<File[]>([]);
  const [draftId, setDraftId] = useState(seed.draftId);
  const [dsn, setDsn] = useState(false);
  const [receipt, setReceipt] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [dragging, setDragging] = useState(false);
  const picker = useRef<HTMLInputElement>(null);

  const form = () => {
    const f = new FormData();
    f.set('to', to);
    f.set('cc', cc);
    f.set('bcc', bcc);
    f.set('subject', subject);
    f.set('text', text);
    if (seed.inReplyTo) f.set('inReplyTo', seed.inReplyTo);
    if (seed.references?.length) f.set('references', seed.references.join(' '));
    if (seed.forwardOf) f.set('forwardOf', seed.forwardOf);
    if (draftId) f.set('draftId', draftId);
    if (dsn) f.set('dsn', 'true');
    if (receipt) f.set('receipt', 'true');
    for (const file of files) f.append('attachment', file, file.name);
    return f;
  };

  const submit = async (what: 'send' | 'draft') => {
    setBusy(true);
    setError('');
    try {
      if (what === 'send') {
        await api('POST', '/api/send', form());
        onDone(t('sent'));
      } else {
        const r = await api<{ id: string }>('POST', '/api/drafts', form());
        setDraftId(r.id);
        onDone(t('draftSaved'));
      }
    } catch (e) {
      setError(t('error', { e: (e as Error).message }));
    } finally {
      setBusy(false);
    }
  };

  const addFiles = (list: FileList | null | undefined) => {
    if (list?.length) setFiles((f) => [...f, ...Array.from(list)]);
  };

  return (
    <form
      class={`compose${dragging ? ' dragging' : ''}`}
      aria-label={t('compose')}
      onSubmit={(e) => {
        e.preventDefault();
        void submit('send');
      }}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        addFiles(e.dataTransfer?.files);
      }}
    >
      <label>
        {t('to')}
        <input name="to" type="text" value={to} onInput={(e) => setTo(e.currentTarget.value)} required />
      </label>
      <label>
        {t('cc')}
        <input name="cc" type="text" value={cc} onInput={(e) => setCc(e.currentTarget.value)} />
      </label>
      <label>
        {t('bcc')}
        <input name="bcc" type="text" value={bcc} onInput={(e) => setBcc(e.currentTarget.value)} />
      </label>
      <label>
        {t('subject')}
        <input
          name="subject"
          type="text"
          value={subject}
          onInput={(e) => setSubject(e.currentTarget.value)}
        />
      </label>
      <label class="grow">
        {t('message')}
        <textarea name="text" rows={10} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <div class="files">
        <input
          ref={picker}
          type="file"
          multiple
          aria-label={t('attach')}
          onChange={(e) => {
            addFiles(e.currentTarget.files);
            e.currentTarget.value = '';
          }}
        />
        <span class="hint">{t('dropHere')}</span>
        <ul aria-label={t('attachments')}>
          {files.map((f, i) => (
            <li key={`${f.name}-${i}`}>
              {f.name} ({Math.ceil(f.size / 1024)} KB){' '}
              <button type="button" onClick={() => setFiles(files.filter((_, j) => j !== i))}>
                {t('remove')}
              </button>
            </li>
          ))}
        </ul>
      </div>
      <div class="options">
        <label class="check">
          <input type="checkbox" checked={dsn} onChange={(e) => setDsn(e.currentTarget.checked)} />
          {t('askDsn')}
        </label>
        <label class="check">
          <input type="checkbox" checked={receipt} onChange={(e) => setReceipt(e.currentTarget.checked)} />
          {t('askReceipt')}
        </label>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {t('send')}
        </button>
        <button type="button" disabled={busy} onClick={() => void submit('draft')}>
          {t('saveDraft')}
        </button>
        <button type="button" onClick={() => onDone()}>
          {t('discard')}
        </button>
      </div>
    </form>
  );
}
