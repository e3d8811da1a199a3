// SPDX-License-Identifier: Apache-2.0
// One real HTTP request for the live transport (run synchronously by the parent through
// execFileSync): request JSON on stdin, response JSON on stdout. Never follows redirects.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';

const req = JSON.parse(readFileSync(0, 'utf8'));
const u = new URL(req.url);
const mod = u.protocol === 'https:' ? https : http;
const ca = process.env.SSL_CERT_FILE ? readFileSync(process.env.SSL_CERT_FILE) : undefined;
const started = process.hrtime.bigint();
const out = (o) =>
  process.stdout.write(
    JSON.stringify({ duration: Number(process.hrtime.bigint() - started) / 1e6, ...o })
  );
const r = mod.request(
  u,
  {
    method: req.method,
    headers: {
      'User-Agent': 'k6-shim',
      ...req.headers,
      ...(req.body ? { 'Content-Length': Buffer.byteLength(req.body) } : {}),
    },
    rejectUnauthorized: !req.insecure,
    ca,
    timeout: req.timeoutMs,
  },
  (res) => {
    const chunks = [];
    res.on('data', (d) => chunks.push(d));
    res.on('end', () => {
      const headers = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2)
        headers.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
      out({ status: res.statusCode, headers, body: Buffer.concat(chunks).toString('utf8') });
    });
  }
);
r.on('timeout', () => r.destroy(new Error('request timeout')));
r.on('error', (e) =>
  out({ status: 0, headers: [], body: null, error: e.message, error_code: 1000 })
);
if (req.body) r.write(req.body);
r.end();
