// SPDX-License-Identifier: Apache-2.0
// The real-socket transport of the k6/http stand-in: each request runs synchronously in a child
// Node process (k6's HTTP calls are synchronous; Node's are not). SSL_CERT_FILE is the CA to trust.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./http_child.mjs', import.meta.url));

function durationMs(t) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(String(t));
  if (!m) return 60000;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000 }[m[2]];
}

export function liveTransport(req) {
  const timeoutMs = durationMs(req.timeout);
  const outText = execFileSync(process.execPath, [child], {
    input: JSON.stringify({ ...req, timeoutMs }),
    timeout: timeoutMs + 5000,
    maxBuffer: 64 * 1024 * 1024,
    env: process.env,
  });
  return JSON.parse(outText.toString('utf8'));
}
