// Calls to the gateway: the bearer token, JSON requests, authenticated downloads. The token is
// only ever sent as the Authorization header, never put in a URL.

// The token lives in this tab's sessionStorage: it survives a reload but not the tab. Where
// storage is refused (some privacy settings), it is kept in memory for the page's life.
export const tokenStore = {
  key: "telemetra.token",
  memory: "",
  get() {
    try { return sessionStorage.getItem(this.key) || ""; } catch { return this.memory; }
  },
  set(token) {
    this.memory = token;
    try { sessionStorage.setItem(this.key, token); } catch { /* memory only */ }
  },
  forget() {
    this.memory = "";
    try { sessionStorage.removeItem(this.key); } catch { /* memory only */ }
  },
};

export function authHeaders() {
  const token = tokenStore.get();
  return token ? { Authorization: "Bearer " + token } : {};
}

// Unauthorized is an HTTP 401: the gateway wants a token (tokenSent false) or refused ours.
export class Unauthorized extends Error {
  constructor(tokenSent, message) {
    super(message || "unauthenticated");
    this.tokenSent = tokenSent;
  }
}

// HTTPError is any other refused call; status says which (404: a route or resource missing).
export class HTTPError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, { signal } = {}) {
  const headers = authHeaders();
  const r = await fetch(path, { headers, signal });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) throw new Unauthorized("Authorization" in headers, body.message);
  if (!r.ok) throw new HTTPError(r.status, body.message || r.statusText);
  return body;
}

// download fetches path with the token and saves the answer under the name its
// Content-Disposition gives (else fallbackName): an <a href> cannot send the Authorization
// header, so the file comes through fetch and a blob URL.
export async function download(path, fallbackName) {
  const headers = authHeaders();
  const r = await fetch(path, { headers });
  if (r.status === 401) throw new Unauthorized("Authorization" in headers);
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    throw new HTTPError(r.status, body.message || r.statusText);
  }
  const named = /filename="?([^";]+)"?/.exec(r.headers.get("Content-Disposition") || "");
  const filename = named ? named[1] : fallbackName;
  const blob = await r.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
  return { filename, blob };
}

// EVER is a start_time before any session: ListStreamSessions defaults to the last hour.
export const EVER = new Date(0);

// query builds a query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    q.set(k, v instanceof Date ? v.toISOString() : String(v));
  }
  return q.toString();
}
