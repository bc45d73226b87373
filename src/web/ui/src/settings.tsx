/** The user's settings: password change, forwarding and the vacation auto-reply. */
import { useEffect, useState } from 'preact/hooks';
import { api, type Vacation } from './api.js';
import { t } from './i18n.js';

function useNote(): [string, (p: Promise<unknown>) => void] {
  const [note, setNote] = useState('');
  return [
    note,
    (p) =>
      void p.then(
        () => setNote(t('saved')),
        (e: Error) => setNote(t('error', { e: e.message })),
      ),
  ];
}

/** The vacation auto-reply (RFC 3834): shown once loaded, so nothing typed is overwritten. */
function VacationForm() {
  const [v, setV] = useState<Vacation>();
  const [note, run] = useNote();
  useEffect(() => {
    api<{ vacation: Vacation }>('GET', '/api/settings/vacation').then((r) => setV(r.vacation));
  }, []);
  if (!v) return null;
  const set = (part: Partial<Vacation>) => setV({ ...v, ...part });
  return (
    <form
      aria-label={t('vacation')}
      class="vacation"
      onSubmit={(e) => {
        e.preventDefault();
        run(api('PUT', '/api/settings/vacation', v));
      }}
    >
      <h3>{t('vacation')}</h3>
      <label class="check">
        <input
          type="checkbox"
          checked={v.enabled}
          onChange={(e) => set({ enabled: e.currentTarget.checked })}
        />
        {t('vacationOn')}
      </label>
      <label>
        {t('vacationSubject')}
        <input
          type="text"
          maxLength={200}
          value={v.subject}
          onInput={(e) => set({ subject: e.currentTarget.value })}
        />
      </label>
      <label>
        {t('vacationDays')}
        <input
          type="number"
          min={1}
          max={365}
          step={1}
          value={v.intervalDays}
          onInput={(e) => set({ intervalDays: Number(e.currentTarget.value) })}
          required
        />
      </label>
      <label class="wide">
        {t('vacationText')}
        <textarea
          rows={6}
          maxLength={65536}
          value={v.text}
          onInput={(e) => set({ text: e.currentTarget.value })}
          required={v.enabled}
        />
      </label>
      <button type="submit">{t('save')}</button>
      {note && <p role="status">{note}</p>}
    </form>
  );
}

export function Settings() {
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [pwNote, runPw] = useNote();
  const [targets, setTargets] = useState('');
  const [keep, setKeep] = useState(true);
  const [fwNote, runFw] = useNote();
  // The forwarding form appears once the current setting is loaded, so nothing typed is overwritten.
  const [loaded, setLoaded] = useState(false);

  useEffect(() => {
    api<{ forward: { targets: string[]; keep: boolean } | null }>('GET', '/api/settings/forward').then(
      (r) => {
        setTargets(r.forward?.targets.join(', ') ?? '');
        setKeep(r.forward?.keep ?? true);
        setLoaded(true);
      },
    );
  }, []);

  return (
    <div class="settings">
      <h2>{t('settings')}</h2>
      <form
        aria-label={t('changePassword')}
        onSubmit={(e) => {
          e.preventDefault();
          runPw(api('POST', '/api/settings/password', { current, password }));
        }}
      >
        <h3>{t('changePassword')}</h3>
        <label>
          {t('currentPassword')}
          <input
            type="password"
            autocomplete="current-password"
            value={current}
            onInput={(e) => setCurrent(e.currentTarget.value)}
            required
          />
        </label>
        <label>
          {t('newPassword')}
          <input
            type="password"
            autocomplete="new-password"
            minLength={8}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        <button type="submit">{t('save')}</button>
        {pwNote && <p role="status">{pwNote}</p>}
      </form>
      {loaded && (
        <form
          aria-label={t('forwarding')}
          onSubmit={(e) => {
            e.preventDefault();
            const list = targets
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean);
            runFw(api('POST', '/api/settings/forward', { targets: list, keep }));
          }}
        >
          <h3>{t('forwarding')}</h3>
          <label>
            {t('forwardTo')}
            <input type="text" value={targets} onInput={(e) => setTargets(e.currentTarget.value)} />
          </label>
          <label class="check">
            <input type="checkbox" checked={keep} onChange={(e) => setKeep(e.currentTarget.checked)} />
            {t('keepCopy')}
          </label>
          <button type="submit">{t('save')}</button>
          {fwNote && <p role="status">{fwNote}</p>}
        </form>
      )}
      <VacationForm />
    </div>
  );
}
