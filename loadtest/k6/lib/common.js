// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the k6 scripts: options from the environment, the login flow followed hop by
// hop, the mock IdP's loopback admin API, /api/verify calls and the summary export. k6 v0.45+.
import http from 'k6/http';
import { check, fail } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';

// ---------------------------------------------------------------------------------------------
// Environment

function raw(name) {
  const v = __ENV[name];
  return v === undefined || v === null || v === '' ? undefined : String(v);
}

export function envString(name, fallback) {
  const v = raw(name);
  return v === undefined ? fallback : v;
}

export function envNumber(name, fallback) {
  const v = raw(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!isFinite(n)) throw new Error(name + ' must be a number (got "' + v + '")');
  return n;
}

export function envBool(name, fallback) {
  const v = raw(name);
  if (v === undefined) return fallback;
  return v === '1' || v.toLowerCase() === 'true' || v.toLowerCase() === 'yes';
}

function stripSlash(u) {
  return u.replace(/\/+$/, '');
}

// k6 / Go duration text ("20s", "1m30s", "500ms", "1h", or a bare number of seconds) -> ms.
export function parseDuration(text) {
  const t = String(text).trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const unit = { h: 3600000, m: 60000, s: 1000, ms: 1, us: 0.001, µs: 0.001 };
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|h|m|s)/g;
  let total = 0;
  let used = 0;
  let m;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * unit[m[2]];
    used += m[0].length;
  }
  if (used === 0 || used !== t.length) throw new Error('not a duration: "' + text + '"');
  return Math.round(total);
}

// ms -> a duration string every k6 version accepts.
export function formatDuration(ms) {
  const v = Math.max(0, Math.round(ms));
  return v % 1000 === 0 ? v / 1000 + 's' : v + 'ms';
}

// The demo's identities (config/demo.json, config/mock-idp.json).
const DEMO_TENANT = '3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70';
const DEMO_CLIENT = 'b7e4d2a1-5c3f-4a9e-8d6b-1f0e9c2a7d35';

const baseUrl = stripSlash(envString('BASE_URL', 'http://localhost:8080'));
const idpUrl = stripSlash(envString('IDP_URL', 'https://localhost:9443'));
const clientId = envString('CLIENT_ID', DEMO_CLIENT);

export const cfg = {
  BASE_URL: baseUrl,
  IDP_URL: idpUrl,
  // The mock's admin API: its own base URL, loopback only (docs/mock-idp.md).
  ADMIN_URL: stripSlash(envString('ADMIN_URL', idpUrl)),
  TENANT: envString('TENANT', DEMO_TENANT),
  CLIENT_ID: clientId,
  ORG: envString('ORG', 'demo'),
  AUDIENCE: envString('AUDIENCE', clientId),
  REDIRECT_URI: envString('REDIRECT_URI', baseUrl + '/api/single-sign-on'),
  RETURN_TO: envString('RETURN_TO', '/k6'),
  // Comma-separated users (oid, preferred_username or email); each VU picks one. Empty: the
  // mock's default user.
  LOGIN_HINTS: envString('LOGIN_HINT', '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
  DURATION: envString('DURATION', '30s'),
  TOKEN_TTL: envNumber('TOKEN_TTL', 3600),
  INSECURE: envBool('INSECURE_SKIP_TLS_VERIFY', false),
  SUMMARY_DIR: stripSlash(envString('SUMMARY_DIR', '.')),
  QUIET: envBool('QUIET', false),
};

export const durationMs = parseDuration(cfg.DURATION);

// Options every script starts from. insecureSkipTLSVerify is the only way k6 accepts the mock's
// dev certificate besides SSL_CERT_FILE (k6 has no custom-CA option).
export function baseOptions() {
  return {
    insecureSkipTLSVerify: cfg.INSECURE,
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'],
    setupTimeout: '120s',
    teardownTimeout: '60s',
  };
}

// Preallocated and maximum VUs of an arrival-rate scenario: enough for `rate` iterations per
// second that each take up to `iterationMs`, overridable with PRE_VUS / MAX_VUS.
export function vuBudget(rate, iterationMs) {
  const busy = Math.ceil((rate * iterationMs) / 1000);
  const pre = envNumber('PRE_VUS', Math.max(5, Math.min(200, busy)));
  const max = envNumber('MAX_VUS', Math.max(pre, Math.min(1000, busy * 4 + 20)));
  return { preAllocatedVUs: pre, maxVUs: max };
}

// ---------------------------------------------------------------------------------------------
// Small helpers (k6 has no URL or URLSearchParams global)

export function header(res, name) {
  const want = name.toLowerCase();
  const h = res.headers || {};
  for (const k in h) {
    if (k.toLowerCase() === want) return String(h[k]);
  }
  return '';
}

function decodeComponent(s) {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch (e) {
    return null;
  }
}

// Query of an absolute or relative URL as {name: [values]}; null when an escape is malformed.
export function parseQuery(url) {
  const q = url.indexOf('?');
  if (q < 0) return {};
  let s = url.substring(q + 1);
  const hash = s.indexOf('#');
  if (hash >= 0) s = s.substring(0, hash);
  const out = {};
  const parts = s.split('&');
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '') continue;
    const eq = parts[i].indexOf('=');
    const k = decodeComponent(eq < 0 ? parts[i] : parts[i].substring(0, eq));
    const v = decodeComponent(eq < 0 ? '' : parts[i].substring(eq + 1));
    if (k === null || v === null) return null;
    if (!out[k]) out[k] = [];
    out[k].push(v);
  }
  return out;
}

// The single value of a query parameter; '' when absent or repeated.
export function one(query, name) {
  return query && query[name] && query[name].length === 1 ? query[name][0] : '';
}

function withoutQuery(url) {
  const q = url.indexOf('?');
  return q < 0 ? url : url.substring(0, q);
}

function cookieValue(res, re) {
  const c = res.cookies || {};
  for (const name in c) {
    if (!re.test(name)) continue;
    const list = c[name];
    for (let i = 0; i < list.length; i++) {
      if (list[i].value !== '') return list[i].value;
    }
  }
  return '';
}

function jsonBody(res) {
  try {
    const j = JSON.parse(res.body);
    return j !== null && typeof j === 'object' ? j : null;
  } catch (e) {
    return null;
  }
}

function nonEmpty(v) {
  return typeof v === 'string' && v.length > 0;
}

function merge(a, b) {
  const out = {};
  for (const k in a) out[k] = a[k];
  for (const k in b) out[k] = b[k];
  return out;
}

let warnings = 0;
// Logs a failed step (status and reason label only: never codes, tokens, cookies or URLs).
export function warn(msg) {
  if (cfg.QUIET || warnings >= 20) return;
  warnings++;
  console.warn(msg + (warnings === 20 ? ' (further warnings of this VU suppressed)' : ''));
}

// ---------------------------------------------------------------------------------------------
// Metrics of the login flow

export const metrics = {
  loginStart: new Trend('login_start_duration', true),
  authorize: new Trend('authorize_duration', true),
  callback: new Trend('callback_duration', true),
  failedCallback: new Trend('failed_callback_duration', true),
  session: new Trend('session_duration', true),
  login: new Trend('login_duration', true),
  loginFailed: new Rate('login_failed'),
  loginFailures: new Counter('login_failures'),
};

const SESSION_COOKIE = /^(__Host-)?oidc-session$/;
const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
// Reasons the callback may give when the IdP fails it (docs/api.md, docs/errors.md).
export const IDP_FAILURE_REASONS = [
  'idp_error',
  'idp_unreachable',
  'idp_timeout',
  'idp_bad_response',
  'token_endpoint_error',
];

function loginCookie(state) {
  return new RegExp(
    '^(__Host-)?oidc-login-' + state.substring(0, 16).replace(/[^A-Za-z0-9_-]/g, '') + '$'
  );
}

function get(url, step, tags, extra) {
  const params = merge(
    { redirects: 0, tags: merge(tags, { name: step, step: step }) },
    extra || {}
  );
  return http.get(url, params);
}

function failed(result, step, res, tags, reason) {
  result.ok = false;
  result.step = step;
  result.status = res ? res.status : 0;
  result.reason = reason || '';
  metrics.loginFailed.add(1, tags);
  metrics.loginFailures.add(1, merge(tags, { step: step }));
  warn(
    'login failed at ' +
      step +
      ': status ' +
      result.status +
      (result.reason ? ' ' + result.reason : '')
  );
  return result;
}

// One complete login as a browser does it, hop by hop (redirects: 0) with the VU's cookie jar:
// login start -> mock IdP authorize -> callback -> /api/session. Every hop is checked.
// opts.tags: extra tags on every request and metric (e.g. {stage: 'degraded'}).
// opts.allowIdpFault: an IdP fault (authorize 5xx or connection lost, callback 502/504 with an
// IdP reason) ends the login without failing a check; the result says what happened.
// Returns {ok, step, status, reason, idpFault, clear, callbackMs, loginMs}; `clear` tells whether
// a callback the IdP failed named an IdP reason in its JSON error.
export function login(opts) {
  const o = opts || {};
  const tags = o.tags || {};
  const result = {
    ok: false,
    step: '',
    status: 0,
    reason: '',
    idpFault: false,
    clear: true,
    callbackMs: 0,
    loginMs: 0,
  };

  // A fresh login per iteration: empty the VU's jar for both origins (k6 also resets it between
  // iterations; this makes the flow independent of that default).
  const jar = http.cookieJar();
  jar.clear(cfg.BASE_URL);
  jar.clear(cfg.IDP_URL);

  // 1. Login start: 302 to the tenant's authorize endpoint with PKCE, state and a login cookie.
  const startUrl =
    cfg.BASE_URL + '/api/single-sign-on/login?return_to=' + encodeURIComponent(cfg.RETURN_TO);
  const r1 = get(startUrl, 'login_start', tags);
  metrics.loginStart.add(r1.timings.duration, tags);
  const authorizeUrl = header(r1, 'Location');
  const aq = parseQuery(authorizeUrl) || {};
  const state = one(aq, 'state');
  const scope = one(aq, 'scope').split(' ');
  const ok1 = check(
    r1,
    {
      'login start: 302': (r) => r.status === 302,
      'login start: Location is the tenant authorize endpoint': () =>
        withoutQuery(authorizeUrl) === cfg.IDP_URL + '/' + cfg.TENANT + '/oauth2/v2.0/authorize',
      'login start: client_id, response_type=code, redirect_uri, scope openid': () =>
        one(aq, 'client_id') === cfg.CLIENT_ID &&
        one(aq, 'response_type') === 'code' &&
        one(aq, 'redirect_uri') === cfg.REDIRECT_URI &&
        scope.indexOf('openid') >= 0,
      'login start: state and nonce present': () =>
        state.length >= 16 && one(aq, 'nonce').length >= 16,
      'login start: PKCE code_challenge with code_challenge_method=S256': () =>
        PKCE_CHALLENGE.test(one(aq, 'code_challenge')) &&
        one(aq, 'code_challenge_method') === 'S256',
      'login start: login-state cookie set': (r) =>
        state.length >= 16 && cookieValue(r, loginCookie(state)) !== '',
    },
    merge(tags, { step: 'login_start' })
  );
  if (!ok1) return failed(result, 'login_start', r1, tags);

  // 2. Authorize at the mock IdP (it signs the user in at once: auto_approve).
  let url2 = authorizeUrl;
  const hint = cfg.LOGIN_HINTS.length > 0 ? pickHint() : '';
  if (hint !== '' && !aq.login_hint) url2 += '&login_hint=' + encodeURIComponent(hint);
  const r2 = get(url2, 'authorize', tags);
  metrics.authorize.add(r2.timings.duration, tags);
  if (o.allowIdpFault && (r2.status === 0 || r2.status >= 500)) {
    result.idpFault = true;
    result.step = 'authorize';
    result.status = r2.status;
    result.reason = r2.status === 0 ? 'connection_lost' : 'idp_unavailable';
    return result;
  }
  const callbackUrl = header(r2, 'Location');
  const cq = parseQuery(callbackUrl) || {};
  const ok2 = check(
    r2,
    {
      'authorize: 302 to the redirect URI': (r) =>
        r.status === 302 && withoutQuery(callbackUrl) === cfg.REDIRECT_URI,
      'authorize: code present, state echoed, no error': () =>
        one(cq, 'code').length > 0 && one(cq, 'state') === state && !cq.error,
    },
    merge(tags, { step: 'authorize' })
  );
  if (!ok2) return failed(result, 'authorize', r2, tags, one(cq, 'error'));

  // 3. Callback: the server redeems the code and verifies the ID token; 302 to return_to with the
  // session cookie. JSON errors, so a failure names its reason.
  const r3 = get(callbackUrl, 'callback', tags, { headers: { Accept: 'application/json' } });
  result.callbackMs = r3.timings.duration;
  metrics.callback.add(r3.timings.duration, tags);
  if (r3.status !== 302) {
    const body = jsonBody(r3);
    const reason = body && nonEmpty(body.error) ? body.error : '';
    if (o.allowIdpFault && (r3.status === 502 || r3.status === 504 || r3.status === 503)) {
      metrics.failedCallback.add(r3.timings.duration, tags);
      const clear = check(
        r3,
        {
          'callback: an IdP failure is answered with its reason': () =>
            body !== null &&
            IDP_FAILURE_REASONS.indexOf(reason) >= 0 &&
            body.status === r3.status &&
            nonEmpty(body.message),
        },
        merge(tags, { step: 'callback' })
      );
      result.idpFault = true;
      result.step = 'callback';
      result.status = r3.status;
      result.reason = reason;
      result.clear = clear;
      return result;
    }
    check(r3, { 'callback: 302 to return_to': () => false }, merge(tags, { step: 'callback' }));
    return failed(result, 'callback', r3, tags, reason);
  }
  const landing = header(r3, 'Location');
  const ok3 = check(
    r3,
    {
      'callback: 302 to return_to': () =>
        landing === cfg.RETURN_TO || landing === cfg.BASE_URL + cfg.RETURN_TO,
      'callback: session cookie set': (r) => cookieValue(r, SESSION_COOKIE) !== '',
    },
    merge(tags, { step: 'callback' })
  );
  if (!ok3) return failed(result, 'callback', r3, tags);

  // 4. The session's claims.
  const r4 = get(cfg.BASE_URL + '/api/session', 'session', tags, {
    headers: { Accept: 'application/json' },
  });
  metrics.session.add(r4.timings.duration, tags);
  const claims = r4.status === 200 ? jsonBody(r4) : null;
  const ok4 = check(
    r4,
    {
      'session: 200 with JSON claims': () => claims !== null,
      'session: org and tid are the organisation and tenant': () =>
        claims !== null && claims.org === cfg.ORG && claims.tid === cfg.TENANT,
      'session: sub, oid, email (the hinted user), name, iss, iat < exp': () =>
        claims !== null &&
        nonEmpty(claims.sub) &&
        nonEmpty(claims.oid) &&
        nonEmpty(claims.email) &&
        nonEmpty(claims.name) &&
        nonEmpty(claims.iss) &&
        typeof claims.iat === 'number' &&
        typeof claims.exp === 'number' &&
        claims.iat < claims.exp &&
        // The user the login hint named (when it is an address; the mock's email defaults to it).
        (hint.indexOf('@') < 0 || claims.email.toLowerCase() === hint.toLowerCase()),
    },
    merge(tags, { step: 'session' })
  );
  if (!ok4) return failed(result, 'session', r4, tags);

  result.ok = true;
  result.loginMs =
    r1.timings.duration + r2.timings.duration + r3.timings.duration + r4.timings.duration;
  metrics.login.add(result.loginMs, tags);
  metrics.loginFailed.add(0, tags);
  return result;
}

let hintIndex = -1;
function pickHint() {
  // One user per VU (spread over the list), as a browser keeps its account.
  if (hintIndex < 0) hintIndex = (typeof __VU === 'number' ? __VU : 0) % cfg.LOGIN_HINTS.length;
  return cfg.LOGIN_HINTS[hintIndex];
}

// ---------------------------------------------------------------------------------------------
// The mock IdP's admin API (loopback only; docs/mock-idp.md). Not for use during the measured
// part of a run except where a scenario needs it (signing is synchronous on the IdP).

function adminPost(path, body, step) {
  return http.post(cfg.ADMIN_URL + path, body === null ? '' : JSON.stringify(body), {
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    tags: { name: step, step: 'admin' },
    timeout: '120s',
  });
}

// Mints `count` (1..10000) RS256 access tokens of the current signing key for the default user.
// Returns {tokens, kid, issuer, expiresAt}. On any surprise it fails the calling stage (setup()
// aborts the run), or returns null when `soft` is true (minting mid-run).
export function mintTokens(count, soft) {
  const res = adminPost(
    '/admin/tokens',
    { count: count, audience: cfg.AUDIENCE, ttl_seconds: cfg.TOKEN_TTL, tenant: cfg.TENANT },
    'admin_tokens'
  );
  const body = res.status === 200 ? jsonBody(res) : null;
  const ok = check(res, {
    'admin: POST /admin/tokens answers the tokens asked for': () =>
      body !== null &&
      Array.isArray(body.tokens) &&
      body.tokens.length === count &&
      body.tokens.every((t) => typeof t === 'string' && t.split('.').length === 3) &&
      nonEmpty(body.kid),
  });
  if (!ok && soft) {
    warn('POST /admin/tokens answered ' + res.status);
    return null;
  }
  if (!ok) {
    fail(
      'POST ' +
        cfg.ADMIN_URL +
        '/admin/tokens answered ' +
        res.status +
        ' (is the mock IdP running, and ' +
        'ADMIN_URL loopback? with its dev certificate set SSL_CERT_FILE=var/dev/ca.pem or ' +
        'INSECURE_SKIP_TLS_VERIFY=1)'
    );
  }
  return { tokens: body.tokens, kid: body.kid, issuer: body.issuer, expiresAt: body.expires_at };
}

// POST /admin/rotate-keys: {new_kid, signs_from, replaced_kid, replaced_retires_at}, or null.
export function rotateKeys() {
  const res = adminPost('/admin/rotate-keys', null, 'admin_rotate_keys');
  const body = res.status === 200 ? jsonBody(res) : null;
  const ok = check(res, {
    'admin: POST /admin/rotate-keys answers the new schedule': () =>
      body !== null &&
      nonEmpty(body.new_kid) &&
      nonEmpty(body.replaced_kid) &&
      body.new_kid !== body.replaced_kid &&
      typeof body.signs_from === 'number' &&
      typeof body.replaced_retires_at === 'number',
  });
  return ok ? body : null;
}

// POST /admin/faults with {latency_ms, error_rate, drop_rate}; true when the IdP echoes them.
export function setFaults(f) {
  const res = adminPost('/admin/faults', f, 'admin_faults');
  const body = res.status === 200 ? jsonBody(res) : null;
  return check(res, {
    'admin: POST /admin/faults puts the settings in force': () =>
      body !== null &&
      body.latency_ms === f.latency_ms &&
      Math.abs(body.error_rate - f.error_rate) < 1e-9 &&
      Math.abs(body.drop_rate - f.drop_rate) < 1e-9,
  });
}

// ---------------------------------------------------------------------------------------------
// /api/verify

export const verifyMetrics = {
  duration: new Trend('verify_duration', true),
  failed: new Rate('verify_failed'),
};

// One forward-auth call with a bearer token: 200 with the X-Auth-* identity headers expected.
export function verify(token, tags) {
  const t = tags || {};
  const res = http.get(cfg.BASE_URL + '/api/verify', {
    headers: { Authorization: 'Bearer ' + token },
    tags: merge(t, { name: 'verify', step: 'verify' }),
  });
  verifyMetrics.duration.add(res.timings.duration, t);
  const ok = check(
    res,
    {
      'verify: 200': (r) => r.status === 200,
      'verify: X-Auth-Subject, X-Auth-Org and X-Auth-Tenant set': (r) =>
        header(r, 'X-Auth-Subject') !== '' &&
        header(r, 'X-Auth-Org') === cfg.ORG &&
        header(r, 'X-Auth-Tenant') === cfg.TENANT,
    },
    merge(t, { step: 'verify' })
  );
  verifyMetrics.failed.add(ok ? 0 : 1, t);
  if (!ok) warn('verify failed: status ' + res.status);
  return ok;
}

// A token whose signature is altered in its middle (the last character may only carry padding
// bits, so changing it could leave the signature bytes as they were).
export function tamper(token) {
  const dot = token.lastIndexOf('.');
  const i = dot + 1 + Math.floor((token.length - dot - 1) / 2);
  const c = token.charAt(i) === 'A' ? 'B' : 'A';
  return token.substring(0, i) + c + token.substring(i + 1);
}

// Before a run: a valid token is accepted and a tampered one refused with WWW-Authenticate
// (RFC 6750 §3). Fails setup() otherwise, so a misconfigured target never produces figures.
export function verifySanity(token) {
  const good = http.get(cfg.BASE_URL + '/api/verify', {
    headers: { Authorization: 'Bearer ' + token },
    tags: { name: 'verify_sanity', step: 'setup' },
  });
  const bad = http.get(cfg.BASE_URL + '/api/verify', {
    headers: { Authorization: 'Bearer ' + tamper(token) },
    tags: { name: 'verify_sanity', step: 'setup' },
    // The refusal is the expected answer: keep it out of http_req_failed.
    responseCallback: http.expectedStatuses(401),
  });
  const ok = check(null, {
    'setup: a minted token verifies (200)': () => good.status === 200,
    'setup: a tampered token is refused (401 with WWW-Authenticate: Bearer)': () =>
      bad.status === 401 && /^Bearer\b/.test(header(bad, 'WWW-Authenticate')),
  });
  if (!ok) {
    fail(
      '/api/verify answered ' +
        good.status +
        ' to a minted token and ' +
        bad.status +
        ' to a tampered one; ' +
        'check AUDIENCE (one of the organisation access_tokens.audiences) and TENANT'
    );
  }
}

// Both servers answer before the run starts.
export function preflight() {
  const s = http.get(cfg.BASE_URL + '/healthz', { tags: { name: 'healthz', step: 'setup' } });
  if (s.status !== 200)
    fail('server ' + cfg.BASE_URL + '/healthz answered ' + s.status + ' (is it running?)');
  const d = http.get(cfg.IDP_URL + '/' + cfg.TENANT + '/v2.0/.well-known/openid-configuration', {
    tags: { name: 'idp_discovery', step: 'setup' },
  });
  if (d.status !== 200) {
    fail(
      'mock IdP discovery at ' +
        cfg.IDP_URL +
        ' answered ' +
        d.status +
        (d.error ? ' (' + d.error + ')' : '') +
        '; for the dev certificate set SSL_CERT_FILE=var/dev/ca.pem or INSECURE_SKIP_TLS_VERIFY=1'
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Summary export: a JSON file with k6's whole summary object plus a text summary on stdout.

function metricList(data) {
  // k6 v0.45 - v1: data.metrics is {name: {type, contains, values, thresholds}}; the newer
  // machine-readable shape has data.results.metrics as [{name, type, contains, values}].
  const out = [];
  if (data && data.metrics && typeof data.metrics === 'object' && !Array.isArray(data.metrics)) {
    for (const name in data.metrics) out.push(merge(data.metrics[name], { name: name }));
  } else if (data && data.results && Array.isArray(data.results.metrics)) {
    for (let i = 0; i < data.results.metrics.length; i++) out.push(data.results.metrics[i]);
  }
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

function checkList(data) {
  const out = [];
  const walk = (g) => {
    if (!g) return;
    const cs = g.checks || [];
    for (let i = 0; i < cs.length; i++) out.push(cs[i]);
    const gs = g.groups || [];
    for (let i = 0; i < gs.length; i++) walk(gs[i]);
  };
  if (data && data.root_group) walk(data.root_group);
  else if (
    data &&
    data.results &&
    data.results.checks &&
    Array.isArray(data.results.checks.orderedChecks)
  ) {
    const cs = data.results.checks.orderedChecks;
    for (let i = 0; i < cs.length; i++) out.push(cs[i]);
  }
  return out;
}

function num(v, time) {
  if (typeof v !== 'number' || !isFinite(v)) return '-';
  if (time) return v >= 1000 ? (v / 1000).toFixed(2) + 's' : v.toFixed(2) + 'ms';
  return Math.abs(v) >= 100 || v === Math.round(v)
    ? String(Math.round(v * 100) / 100)
    : v.toFixed(4);
}

function pad(s, n) {
  let t = s;
  while (t.length < n) t += ' ';
  return t;
}

export function textSummary(name, data) {
  const lines = [];
  const ms =
    data && data.state && typeof data.state.testRunDurationMs === 'number'
      ? data.state.testRunDurationMs
      : NaN;
  lines.push('');
  lines.push(
    'k6 ' +
      name +
      (isFinite(ms) ? ' (' + (ms / 1000).toFixed(1) + ' s)' : '') +
      ' against ' +
      cfg.BASE_URL
  );
  const ms2 = metricList(data);
  let passed = 0;
  let failedN = 0;
  const thresholdLines = [];
  for (let i = 0; i < ms2.length; i++) {
    const t = ms2[i].thresholds || {};
    for (const expr in t) {
      const ok = t[expr] && t[expr].ok !== false;
      if (ok) passed++;
      else failedN++;
      thresholdLines.push('  ' + (ok ? 'ok     ' : 'FAILED ') + ms2[i].name + ': ' + expr);
    }
  }
  lines.push('thresholds: ' + passed + ' passed, ' + failedN + ' failed');
  for (let i = 0; i < thresholdLines.length; i++) lines.push(thresholdLines[i]);
  const cs = checkList(data);
  if (cs.length > 0) {
    let p = 0;
    let f = 0;
    for (let i = 0; i < cs.length; i++) {
      p += cs[i].passes || 0;
      f += cs[i].fails || 0;
    }
    lines.push('checks: ' + p + ' passed, ' + f + ' failed');
    for (let i = 0; i < cs.length; i++) {
      if (cs[i].fails > 0)
        lines.push(
          '  FAILED ' + cs[i].name + ': ' + cs[i].fails + ' of ' + (cs[i].passes + cs[i].fails)
        );
    }
  }
  lines.push('metrics:');
  for (let i = 0; i < ms2.length; i++) {
    const m = ms2[i];
    const v = m.values || {};
    const time = m.contains === 'time';
    let text;
    if (m.type === 'trend') {
      text =
        'avg=' +
        num(v.avg, time) +
        ' med=' +
        num(v.med, time) +
        ' p(95)=' +
        num(v['p(95)'], time) +
        ' p(99)=' +
        num(v['p(99)'], time) +
        ' max=' +
        num(v.max, time) +
        (typeof v.count === 'number' ? ' n=' + v.count : '');
    } else if (m.type === 'rate') {
      const n = (v.passes || 0) + (v.fails || 0);
      text =
        (typeof v.rate === 'number' ? (v.rate * 100).toFixed(3) + '%' : '-') +
        ' (' +
        (v.passes || 0) +
        ' of ' +
        n +
        ')';
    } else if (m.type === 'counter') {
      text = num(v.count, false) + ' (' + num(v.rate, false) + '/s)';
    } else {
      text =
        'value=' + num(v.value, false) + ' min=' + num(v.min, false) + ' max=' + num(v.max, false);
    }
    lines.push('  ' + pad(m.name, 44) + ' ' + text);
  }
  lines.push('');
  return lines.join('\n');
}

// handleSummary() of every script: SUMMARY_DIR/k6-<name>-summary.json (SUMMARY_DIR=- skips the
// file) and the text summary on stdout.
export function summaryOutputs(name, data) {
  const out = { stdout: textSummary(name, data) };
  if (cfg.SUMMARY_DIR !== '-')
    out[cfg.SUMMARY_DIR + '/k6-' + name + '-summary.json'] = JSON.stringify(data, null, 2);
  return out;
}
