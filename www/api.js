// api.js - the bridge's HTTP API (bridge/HTTP.md): pairing, the session token, calls and streams.

const KEY = "lb.token";

// An error of the bridge: code (a PROTOCOL.md name or number), message, HTTP status.
export class ApiError extends Error {
  constructor(code, message, status) {
    super(message || String(code));
    this.code = code;
    this.status = status;
  }
}

// The session token kept in sessionStorage, or null.
export function token() {
  return sessionStorage.getItem(KEY);
}

// Forget the session (quitting, or the bridge said it is over).
export function forget() {
  sessionStorage.removeItem(KEY);
}

let onUnauthorized = () => {};
// fn() is called when the bridge answers 401 (the session ended).
export function setOnUnauthorized(fn) {
  onUnauthorized = fn;
}

async function http(method, path, body, auth = true) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && token()) headers.Authorization = "Bearer " + token();
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  let j = null;
  try {
    j = await r.json();
  } catch {
    throw new ApiError("bad_reply", "HTTP " + r.status, r.status);
  }
  if (r.status === 401 && auth) {
    forget();
    onUnauthorized(j?.error?.message);
  }
  if (!r.ok) throw new ApiError(j?.error?.code ?? r.status, j?.error?.message, r.status);
  return j;
}

// Exchange a pairing code for a session: {token, role, name, user, expires}; throws ApiError
// (403 forbidden, 429 rate_limited).
export async function pair(code) {
  const j = await http("POST", "/api/pair", { code }, false);
  sessionStorage.setItem(KEY, j.token);
  return j;
}

// The session's {role, name, user, expires}; throws ApiError (401 when over).
export function session() {
  return http("GET", "/api/session");
}

// Run method as the session: its result; throws ApiError with the method's error.
// data: an optional Uint8Array sent as the request's binary frame. With withData, returns
// {result, data: Uint8Array|null}.
export async function call(method, params = {}, data = null, withData = false) {
  const body = { method, params };
  if (data) body.data = toBase64(data);
  const j = await http("POST", "/api/call", body);
  if (j.error) throw new ApiError(j.error.name ?? j.error.code, j.error.message, 200);
  if (!withData) return j.result;
  return { result: j.result, data: j.data ? fromBase64(j.data) : null };
}

// An EventSource on topics (prefixes), calling onMsg(event data) for each message, and
// events[name](parsed data) for other named events (`revoked`: {topic, reason}); returns it.
export function stream(topics, onMsg, onError = () => {}, events = {}) {
  const q = new URLSearchParams({ topics: topics.join(","), token: token() ?? "" });
  const es = new EventSource("/api/stream?" + q.toString());
  es.addEventListener("msg", (e) => {
    try {
      onMsg(JSON.parse(e.data));
    } catch (err) {
      onError(err);
    }
  });
  for (const [name, fn] of Object.entries(events))
    es.addEventListener(name, (e) => {
      let d = null;
      try {
        d = JSON.parse(e.data);
      } catch {
        d = { reason: e.data };
      }
      fn(d);
    });
  es.addEventListener("end", () => es.close());
  es.onerror = onError;
  return es;
}

// The URL of a job's result file, for a link.
export function fileUrl(job, file) {
  return "/api/file?" + new URLSearchParams({ job, file, token: token() ?? "" }).toString();
}

// Standard base64 of bytes.
export function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

// Bytes of standard base64 text.
export function fromBase64(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const CRC_TABLE = (() => {
  const tab = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    tab[n] = c >>> 0;
  }
  return tab;
})();

// zlib's CRC-32 of bytes, continuing from crc (0 to start).
export function crc32(bytes, crc = 0) {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
