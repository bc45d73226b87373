/** The JSON API client: sends the CSRF token on every state-changing request. */
let csrf = '';

export function setCsrf(token: string): void {
  csrf = token;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  const json = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, (json as { error?: string }).error ?? r.statusText);
  return json as T;
}

export interface Me {
  address: string;
  isAdmin: boolean;
  csrfToken: string;
}

export interface MailboxInfo {
  name: string;
  total: number;
  unseen: number;
  uidNext: number;
}

export interface Summary {
  id: string;
  from: string;
  to: string;
  subject: string;
  date: string;
  size: number;
  flags: string[];
  hasAttachments: boolean;
}

export interface FullMessage extends Omit<Summary, 'date'> {
  date: string | null;
  receivedAt: string;
  mailbox: string;
  cc: string;
  text: string | null;
  html: string | null;
  attachments: Array<{
    index: number;
    filename: string | null;
    contentType: string;
    size: number;
    inline: boolean;
    contentId: string | null;
  }>;
}

export interface Template {
  to: string;
  cc: string;
  subject: string;
  text: string;
  inReplyTo: string | null;
  references: string[];
  forwardOf: string | null;
}

export interface Vacation {
  enabled: boolean;
  subject: string;
  text: string;
  intervalDays: number;
}

export type DeliveryState = 'delivered' | 'queued' | 'deferred' | 'bounced' | 'failed' | 'unknown';

export interface DeliveryRow {
  address: string;
  target?: string;
  local: boolean;
  state: DeliveryState;
  status?: string;
  reply?: string;
  remoteMta?: string;
  attempts?: number;
  nextAttemptAt?: string;
  at?: string;
}
