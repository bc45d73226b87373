/**
 * Shows HTML mail safely: DOMPurify removes scripts, event handlers and active content, and the
 * result goes into an iframe `srcdoc` with `sandbox` (no allow-scripts, no allow-same-origin, so
 * even something DOMPurify missed cannot run or touch this page) and its own Content-Security-
 * Policy that blocks every fetch — remote images included until the user asks for them.
 */
import DOMPurify from 'dompurify';
import { useState } from 'preact/hooks';
import { t } from './i18n.js';

const REMOTE = /(<img\b[^>]*\bsrc\s*=\s*["']?\s*(https?:)?\/\/)|url\(\s*["']?\s*(https?:)?\/\//i;

export function hasRemoteContent(html: string): boolean {
  return REMOTE.test(html);
}

export function mailDocument(html: string, showImages: boolean): string {
  const clean = DOMPurify.sanitize(html, {
    FORBID_TAGS: [
      'form',
      'input',
      'button',
      'textarea',
      'select',
      'base',
      'meta',
      'link',
      'iframe',
      'object',
      'embed',
    ],
    ALLOW_DATA_ATTR: false,
  });
  const img = showImages ? 'data: https: http:' : 'data:';
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src ${img}; font-src data:; form-action 'none'`;
  return (
    `<!doctype html><html><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${csp}">` +
    `<base target="_blank"><style>body{font:15px/1.5 system-ui,sans-serif;margin:8px;overflow-wrap:anywhere}` +
    `img{max-width:100%;height:auto}</style></head><body>${clean}</body></html>`
  );
}

export function MailFrame({ html, title }: { html: string; title: string }) {
  const [show, setShow] = useState(false);
  const remote = hasRemoteContent(html);
  const doc = mailDocument(html, show);
  return (
    <div class="mail-html">
      {remote && !show && (
        <p class="notice" role="status">
          {t('imagesBlocked')}{' '}
          <button type="button" onClick={() => setShow(true)}>
            {t('showImages')}
          </button>
        </p>
      )}
      {/* A new document gets a new iframe: changing srcdoc while the first one still loads (inline
          images arriving, "show images") could leave the old document showing. */}
      <iframe
        key={doc}
        title={title}
        sandbox="allow-popups allow-popups-to-escape-sandbox"
        referrerpolicy="no-referrer"
        srcdoc={doc}
      />
    </div>
  );
}
