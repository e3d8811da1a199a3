// SPDX-License-Identifier: Apache-2.0
// A simulated demo (callback server + mock IdP) behind the k6/http stand-in, following
// docs/api.md and docs/mock-idp.md: enough to run every script's steps and checks without
// sockets. It is a model of the documented behaviour, not of the implementation.
import { createHmac, randomBytes } from 'node:crypto';

const b64u = (buf) =>
  Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

function parse(u) {
  const m = /^(https?:\/\/[^/]+)([^?]*)(?:\?(.*))?$/.exec(u);
  const q = {};
  for (const part of (m[3] || '').split('&').filter(Boolean)) {
    const [k, v = ''] = part.split('=');
    (q[decodeURIComponent(k)] = q[decodeURIComponent(k)] || []).push(
      decodeURIComponent(v.replace(/\+/g, ' '))
    );
  }
  return { origin: m[1], path: m[2] || '/', q };
}

function cookies(headers) {
  const out = {};
  for (const part of String(headers.Cookie || '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

export function makeFakeDemo(env) {
  const base = env.BASE_URL;
  const idp = env.IDP_URL;
  const tenant = env.TENANT;
  const client = env.CLIENT_ID;
  const org = env.ORG;
  const redirectUri = base + '/api/single-sign-on';
  const secret = randomBytes(16);
  const faults = { latency_ms: 0, error_rate: 0, drop_rate: 0 };
  const stats = { requests: 0, idpCalls: 0, faulted: 0, minted: 0, rotations: 0 };
  let kid = 'kid-1';
  const codes = new Map();
  const pending = new Map();
  let n = 0;

  // Deterministic fault draw (a low-discrepancy sequence stands in for randomness).
  const draw = () => (++stats.idpCalls * 0.6180339887) % 1;
  const sign = (data) =>
    createHmac('sha256', secret).update(data).digest('hex').repeat(6).slice(0, 342);
  const token = (claims) => {
    const h = b64u(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid }));
    const p = b64u(JSON.stringify(claims));
    return `${h}.${p}.${sign(h + '.' + p)}`;
  };
  const valid = (t) => {
    const parts = String(t).split('.');
    return parts.length === 3 && sign(parts[0] + '.' + parts[1]) === parts[2]
      ? JSON.parse(Buffer.from(parts[1], 'base64url'))
      : null;
  };
  const json = (status, body, extra) => ({
    status,
    headers: [['Content-Type', 'application/json'], ...(extra || [])],
    body: JSON.stringify(body),
  });
  const err = (status, error, extra) =>
    json(status, {
      error,
      message: `simulated ${error}`,
      status,
      request_id: '000000000000002a',
      ...(extra || {}),
    });
  // An IdP fault as the server or the browser sees it: 'error', 'drop' or null.
  const idpFault = () => {
    if (faults.drop_rate > 0 && draw() < faults.drop_rate) return 'drop';
    if (faults.error_rate > 0 && draw() < faults.error_rate) return 'error';
    return null;
  };

  function handle(req) {
    stats.requests++;
    const u = parse(req.url);
    const c = cookies(req.headers);
    if (u.origin === base) {
      if (u.path === '/healthz') return { status: 200, headers: [], body: 'ok' };
      if (u.path === '/api/single-sign-on/login') {
        const state = b64u(randomBytes(24));
        const q = [
          `client_id=${client}`,
          'response_type=code',
          `redirect_uri=${encodeURIComponent(redirectUri)}`,
          'scope=openid%20profile%20email',
          `state=${state}`,
          `nonce=${b64u(randomBytes(24))}`,
          `code_challenge=${b64u(randomBytes(32))}`,
          'code_challenge_method=S256',
          'response_mode=query',
        ].join('&');
        pending.set(state, { returnTo: (u.q.return_to || ['/'])[0] });
        return {
          status: 302,
          headers: [
            ['Location', `${idp}/${tenant}/oauth2/v2.0/authorize?${q}`],
            [
              'Set-Cookie',
              `oidc-login-${state.slice(0, 16)}=sealed${n++}; Path=/; Max-Age=600; HttpOnly; SameSite=Lax`,
            ],
          ],
          body: '',
        };
      }
      if (u.path === '/api/single-sign-on') {
        const code = (u.q.code || [''])[0];
        const state = (u.q.state || [''])[0];
        const p = pending.get(state);
        if (!p || !c[`oidc-login-${state.slice(0, 16)}`]) return err(400, 'state_missing');
        pending.delete(state);
        const clear = [
          'Set-Cookie',
          `oidc-login-${state.slice(0, 16)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`,
        ];
        const who = codes.get(code);
        codes.delete(code);
        const f = idpFault();
        if (f === 'drop')
          return {
            ...err(502, 'idp_unreachable', {}),
            duration: faults.latency_ms + 1,
            headers: [['Content-Type', 'application/json'], clear],
          };
        if (f === 'error')
          return {
            ...err(502, 'token_endpoint_error', {
              idp_error: 'temporarily_unavailable',
              aadsts: 90033,
              aadsts_reason: 'transient_error',
            }),
            duration: faults.latency_ms + 1,
          };
        if (!who) return err(502, 'token_endpoint_error', { aadsts: 54005 });
        const session = token({
          sub: 'acct-' + who,
          org,
          tid: tenant,
          oid: who,
          email: who,
          name: 'Ada Lovelace',
          iss: base,
          iat: 1,
          exp: 2,
        });
        return {
          status: 302,
          headers: [
            ['Location', p.returnTo],
            [
              'Set-Cookie',
              `oidc-session=${session}; Path=/; Max-Age=28800; HttpOnly; SameSite=Lax`,
            ],
            clear,
          ],
          body: '',
          duration: faults.latency_ms + 2,
        };
      }
      if (u.path === '/api/session') {
        const claims = c['oidc-session'] ? valid(c['oidc-session']) : null;
        return claims ? json(200, claims) : err(401, 'credentials_missing');
      }
      if (u.path === '/api/verify') {
        const m = /^Bearer (.+)$/.exec(req.headers.Authorization || '');
        const claims = m ? valid(m[1]) : null;
        if (!claims)
          return {
            status: 401,
            headers: [['WWW-Authenticate', 'Bearer error="invalid_token"']],
            body: '',
          };
        return {
          status: 200,
          headers: [
            ['X-Auth-Subject', claims.oid],
            ['X-Auth-Org', org],
            ['X-Auth-Tenant', claims.tid],
            ['X-Auth-Email', 'ada@demo.example'],
            ['X-Auth-Scopes', 'access_as_user'],
          ],
          body: '{}',
        };
      }
      return err(404, 'not_found');
    }
    if (u.origin === idp) {
      if (u.path.startsWith('/admin/')) {
        const body = req.body ? JSON.parse(req.body) : {};
        if (req.method !== 'POST' && u.path !== '/admin/faults') return err(405, 'method');
        if (u.path === '/admin/tokens') {
          if (!(body.count >= 1 && body.count <= 10000) || typeof body.audience !== 'string')
            return json(400, { error: 'invalid_request' });
          stats.minted += body.count;
          const tokens = [];
          for (let i = 0; i < body.count; i++)
            tokens.push(
              token({
                aud: body.audience,
                tid: body.tenant || tenant,
                oid: 'ada',
                uti: b64u(randomBytes(12)),
              })
            );
          return json(200, {
            tokens,
            issuer: `${idp}/${tenant}/v2.0`,
            kid,
            expires_at: 4000000000,
          });
        }
        if (u.path === '/admin/rotate-keys') {
          const replaced = kid;
          kid = `kid-${++stats.rotations + 1}`;
          return json(200, {
            new_kid: kid,
            signs_from: 1,
            replaced_kid: replaced,
            replaced_retires_at: 2,
          });
        }
        if (u.path === '/admin/faults') {
          for (const k of ['latency_ms', 'error_rate', 'drop_rate'])
            if (k in body) faults[k] = body[k];
          return json(200, { ...faults });
        }
        return err(404, 'not_found');
      }
      const f = idpFault();
      if (f === 'drop')
        return {
          status: 0,
          headers: [],
          body: null,
          error: 'EOF',
          error_code: 1000,
          duration: faults.latency_ms,
        };
      if (f === 'error')
        return {
          status: 503,
          headers: [['Retry-After', '1']],
          body: '<p>AADSTS90033</p>',
          duration: faults.latency_ms,
        };
      if (u.path === `/${tenant}/v2.0/.well-known/openid-configuration`)
        return json(200, { issuer: `${idp}/${tenant}/v2.0` });
      if (u.path === `/${tenant}/oauth2/v2.0/authorize`) {
        const one = (k) => (u.q[k] && u.q[k].length === 1 ? u.q[k][0] : null);
        if (one('client_id') !== client || one('redirect_uri') !== redirectUri)
          return { status: 400, headers: [], body: 'AADSTS700016' };
        if (
          !/^[A-Za-z0-9_-]{43}$/.test(one('code_challenge') || '') ||
          one('code_challenge_method') !== 'S256'
        ) {
          return {
            status: 302,
            headers: [['Location', `${redirectUri}?error=invalid_request&state=${one('state')}`]],
            body: '',
          };
        }
        const code = b64u(randomBytes(24));
        codes.set(code, one('login_hint') || 'ada@demo.example');
        return {
          status: 302,
          headers: [['Location', `${redirectUri}?code=${code}&state=${one('state')}`]],
          body: '',
          duration: faults.latency_ms + 1,
        };
      }
      return { status: 404, headers: [], body: '' };
    }
    return {
      status: 0,
      headers: [],
      body: null,
      error: 'dial tcp: connection refused',
      error_code: 1212,
    };
  }

  return {
    stats,
    faults,
    transport(req) {
      const r = handle(req);
      return { duration: 1 + (stats.requests % 5) * 0.5, ...r };
    },
  };
}
