// SPDX-License-Identifier: Apache-2.0
// Stand-in for `k6/http` (the v0.45 API surface): synchronous requests through the harness's
// transport (a simulated demo, or real sockets), the per-VU cookie jar, response objects whose
// unknown members throw, and the http_req_* samples k6 records.
import { sample, state, strict } from './state.mjs';

const PARAMS = new Set([
  'auth',
  'cookies',
  'headers',
  'jar',
  'redirects',
  'tags',
  'timeout',
  'compression',
  'responseType',
  'responseCallback',
]);

function parseUrl(u) {
  const m = /^(https?):\/\/([^/:?#]+)(?::(\d+))?([^?#]*)(\?[^#]*)?/.exec(u);
  if (!m) throw new TypeError(`k6/http: not an absolute http(s) URL: ${u}`);
  return {
    scheme: m[1],
    host: m[2].toLowerCase(),
    port: m[3] || (m[1] === 'https' ? '443' : '80'),
    path: m[4] || '/',
    query: m[5] || '',
  };
}

// Go's textproto.CanonicalMIMEHeaderKey, as k6 shows response header names.
function canonical(name) {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase());
}

function resolve(base, loc) {
  if (/^https?:\/\//i.test(loc)) return loc;
  const b = parseUrl(base);
  const origin = `${b.scheme}://${b.host}:${b.port}`;
  if (loc.startsWith('/')) return origin + loc;
  return origin + b.path.replace(/[^/]*$/, '') + loc;
}

export class CookieJar {
  constructor() {
    this.cookies = new Map(); // host|path|name -> cookie
  }
  _store(url, c) {
    const u = parseUrl(url);
    const path = c.path || u.path.replace(/\/[^/]*$/, '') || '/';
    const key = `${u.host}|${path}|${c.name}`;
    if (c.maxAge !== undefined && c.maxAge <= 0) this.cookies.delete(key);
    else this.cookies.set(key, { ...c, host: u.host, path });
  }
  _matching(url) {
    const u = parseUrl(url);
    return [...this.cookies.values()].filter(
      (c) => c.host === u.host && u.path.startsWith(c.path) && (!c.secure || u.scheme === 'https')
    );
  }
  cookiesForURL(url) {
    const out = {};
    for (const c of this._matching(url)) (out[c.name] = out[c.name] || []).push(c.value);
    return out;
  }
  set(url, name, value, options) {
    this._store(url, {
      name,
      value: String(value),
      path: (options && options.path) || '/',
      secure: Boolean(options && options.secure),
    });
  }
  clear(url) {
    const u = parseUrl(url);
    for (const [k, c] of this.cookies) if (c.host === u.host) this.cookies.delete(k);
  }
  delete(url, name) {
    const u = parseUrl(url);
    for (const [k, c] of this.cookies)
      if (c.host === u.host && c.name === name) this.cookies.delete(k);
  }
}

let vuJar = new CookieJar();
export function cookieJar() {
  return strict(vuJar, 'CookieJar');
}
// Harness: k6 resets the VU jar between iterations.
export function _resetJar() {
  vuJar = new CookieJar();
}

function parseSetCookie(line) {
  const parts = line.split(';').map((s) => s.trim());
  const eq = parts[0].indexOf('=');
  if (eq <= 0) return null;
  const c = {
    name: parts[0].slice(0, eq),
    value: parts[0].slice(eq + 1),
    domain: '',
    path: '',
    httpOnly: false,
    secure: false,
    maxAge: undefined,
    expires: 0,
  };
  for (const a of parts.slice(1)) {
    const [k, ...rest] = a.split('=');
    const v = rest.join('=');
    switch (k.toLowerCase()) {
      case 'path':
        c.path = v;
        break;
      case 'domain':
        c.domain = v;
        break;
      case 'max-age':
        c.maxAge = Number(v);
        break;
      case 'httponly':
        c.httpOnly = true;
        break;
      case 'secure':
        c.secure = true;
        break;
      default:
        break;
    }
  }
  return c;
}

function makeResponse(req, raw, jar) {
  const headers = {};
  const cookies = {};
  for (const [n, v] of raw.headers || []) {
    const k = canonical(n);
    headers[k] = k in headers ? headers[k] + ', ' + v : String(v);
    if (k === 'Set-Cookie') {
      const c = parseSetCookie(String(v));
      if (!c) continue;
      (cookies[c.name] = cookies[c.name] || []).push({
        name: c.name,
        value: c.value,
        domain: c.domain,
        path: c.path,
        http_only: c.httpOnly,
        secure: c.secure,
        max_age: c.maxAge || 0,
        expires: 0,
      });
      if (jar) jar._store(req.url, c);
    }
  }
  const d = raw.duration || 0;
  const body = raw.body === undefined || raw.body === null ? null : String(raw.body);
  return strict(
    {
      status: raw.status || 0,
      status_text: raw.status ? `${raw.status}` : '',
      proto: 'HTTP/1.1',
      headers,
      cookies,
      body,
      error: raw.error || '',
      error_code: raw.error_code || 0,
      url: req.url,
      remote_ip: '127.0.0.1',
      remote_port: Number(parseUrl(req.url).port),
      tls_version: '',
      tls_cipher_suite: '',
      ocsp: {},
      request: {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: req.body || '',
        cookies: {},
      },
      timings: {
        duration: d,
        blocked: 0,
        connecting: 0,
        tls_handshaking: 0,
        sending: 0,
        waiting: d,
        receiving: 0,
      },
      json(selector) {
        if (selector !== undefined) throw new Error('json(selector) is not simulated');
        return JSON.parse(body);
      },
      html() {
        throw new Error('html() is not simulated');
      },
      clickLink() {
        throw new Error('clickLink() is not simulated');
      },
      submitForm() {
        throw new Error('submitForm() is not simulated');
      },
    },
    'Response'
  );
}

export function request(method, url, body, params) {
  if (state.ctx.stage === 'init')
    throw new Error('http requests are not allowed in the init context');
  const p = params || {};
  for (const k of Object.keys(p))
    if (!PARAMS.has(k)) throw new TypeError(`k6/http: unknown request parameter "${k}"`);
  if (p.tags)
    for (const k in p.tags)
      if (typeof p.tags[k] !== 'string') throw new TypeError(`k6/http: tag ${k} is not a string`);
  if (body !== null && body !== undefined && typeof body !== 'string')
    throw new TypeError('k6/http: only string bodies are simulated');
  const jar = p.jar ? p.jar : vuJar;
  let maxRedirects = p.redirects === undefined ? 10 : p.redirects;
  let cur = {
    method: method.toUpperCase(),
    url: String(url),
    headers: { ...(p.headers || {}) },
    body: body || null,
  };
  for (;;) {
    parseUrl(cur.url);
    const cookieList = jar._matching(cur.url).map((c) => `${c.name}=${c.value}`);
    const headers = { ...cur.headers };
    if (cookieList.length) headers.Cookie = cookieList.join('; ');
    const raw = state.transport({
      method: cur.method,
      url: cur.url,
      headers,
      body: cur.body,
      insecure: Boolean(state.options && state.options.insecureSkipTLSVerify),
      timeout: p.timeout || '60s',
    });
    const res = makeResponse(cur, raw, jar);
    const cb = p.responseCallback;
    if (cb !== undefined && cb !== null && !(cb && typeof cb._expected === 'function'))
      throw new TypeError('responseCallback must come from http.expectedStatuses()');
    const expected = cb ? cb._expected(res.status) : res.status >= 200 && res.status < 400;
    const tags = {
      method: cur.method,
      url: cur.url,
      name: cur.url,
      status: String(res.status),
      expected_response: String(expected),
      ...(p.tags || {}),
    };
    sample('http_reqs', 1, tags);
    sample('http_req_duration', res.timings.duration, tags);
    sample('http_req_failed', expected ? 0 : 1, tags);
    const loc = res.headers.Location;
    if (res.status >= 300 && res.status < 400 && loc && maxRedirects > 0) {
      maxRedirects--;
      cur = {
        method: res.status === 307 || res.status === 308 ? cur.method : 'GET',
        url: resolve(cur.url, loc),
        headers: cur.headers,
        body: null,
      };
      continue;
    }
    return res;
  }
}

export function get(url, params) {
  if (arguments.length > 2) throw new TypeError('http.get(url, params): a body is not accepted');
  return request('GET', url, null, params);
}
export function head(url, params) {
  return request('HEAD', url, null, params);
}
export function post(url, body, params) {
  return request('POST', url, body, params);
}
export function put(url, body, params) {
  return request('PUT', url, body, params);
}
export function patch(url, body, params) {
  return request('PATCH', url, body, params);
}
export function del(url, body, params) {
  return request('DELETE', url, body, params);
}
export function options(url, body, params) {
  return request('OPTIONS', url, body, params);
}
export function asyncRequest() {
  throw new Error('asyncRequest is not simulated');
}
export function batch() {
  throw new Error('batch is not simulated');
}
// A response callback: which statuses count as expected (http_req_failed = 0).
export function expectedStatuses(...specs) {
  if (!specs.length)
    throw new TypeError('expectedStatuses() needs at least one status or {min, max}');
  for (const s of specs)
    if (!(Number.isInteger(s) || (s && Number.isInteger(s.min) && Number.isInteger(s.max))))
      throw new TypeError('expectedStatuses: bad argument');
  return {
    _expected: (status) =>
      specs.some((s) => (Number.isInteger(s) ? s === status : status >= s.min && status <= s.max)),
  };
}
export function setResponseCallback() {
  throw new Error('setResponseCallback is not simulated');
}
export function file(data, filename, contentType) {
  return { data, filename, content_type: contentType };
}
export function url(strings, ...values) {
  return strings.reduce((a, s, i) => a + s + (i < values.length ? values[i] : ''), '');
}
export const TLS_1_0 = 'tls1.0';
export const TLS_1_1 = 'tls1.1';
export const TLS_1_2 = 'tls1.2';
export const TLS_1_3 = 'tls1.3';
export const OCSP_STATUS_GOOD = 'good';
export const OCSP_STATUS_REVOKED = 'revoked';
export const OCSP_STATUS_UNKNOWN = 'unknown';

export default strict(
  {
    request,
    get,
    head,
    post,
    put,
    patch,
    del,
    options,
    asyncRequest,
    batch,
    expectedStatuses,
    setResponseCallback,
    file,
    url,
    cookieJar,
    CookieJar,
    TLS_1_0,
    TLS_1_1,
    TLS_1_2,
    TLS_1_3,
    OCSP_STATUS_GOOD,
    OCSP_STATUS_REVOKED,
    OCSP_STATUS_UNKNOWN,
  },
  'http'
);
