/**
 * Content-Disposition for downloads (RFC 6266 §4.3, RFC 8187): an ASCII `filename` fallback for
 * old clients and `filename*=UTF-8''…` with the real name (Korean names included), so every
 * browser saves the file under its own name.
 */

/** The header value for an attachment download named `name`. */
export function attachmentDisposition(name: string | undefined): string {
  const clean = (name ?? '').replace(/[\u0000-\u001f\u007f/\\]+/g, '_').trim() || 'attachment';
  const fallback = clean.replace(/[^\x20-\x7e]/g, '_').replace(/["%]/g, '_');
  // RFC 8187 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else percent-encoded.
  const star = Array.from(Buffer.from(clean, 'utf8'))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9!#$&+\-.^_`|~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
  return `attachment; filename="${fallback}"; filename*=UTF-8''${star}`;
}
