// SPDX-License-Identifier: Apache-2.0
// Key rotation: /api/verify and login traffic while the mock IdP rotates its signing keys mid-run
// (POST /admin/rotate-keys). Verify tokens are minted again after each rotation, as a client
// fetches new tokens (a token of a key the IdP has retired is rightly refused, so old tokens are
// not replayed forever). Threshold: zero failures.
//
//   k6 run -e DURATION=30s loadtest/k6/key_rotation.js
//
// With the mock's defaults a new key signs only 600 s after the rotation
// (keys.signing_overlap_seconds), so the tokens minted after it still carry the old key. To verify
// tokens and ID tokens of the new key within a short run, start the mock with a signing overlap
// above the server's jwks.min_refresh_interval (the demo's is 5 s; its refetch on an unknown kid
// is limited to one per interval) and a JWKS max-age below the overlap, e.g.
// "keys": {"signing_overlap_seconds": 10, "jwks_max_age_seconds": 5}, and run with
// REMINT_AFTER above the overlap (-e REMINT_AFTER=12s). A shorter overlap than the server's
// refresh interval fails verifications with kid_unknown, rightly: Entra's overlap is days.
//
// Environment (besides lib/common.js): VERIFY_RATE requests/s [200], LOGIN_RATE logins/s [10],
// ROTATE_AT first rotation [a third of DURATION], ROTATIONS [1], ROTATE_EVERY between rotations
// [(DURATION - ROTATE_AT) / (ROTATIONS + 1)], REMINT_AFTER delay before each VU mints new tokens
// [2s], REMINT_TOKENS tokens per VU and rotation [20], TOKENS initial pool [200], MAX_DROPPED [0].
import exec from 'k6/execution';
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';
import {
  baseOptions,
  durationMs,
  envNumber,
  formatDuration,
  login,
  mintTokens,
  parseDuration,
  preflight,
  rotateKeys,
  summaryOutputs,
  verify,
  verifyMetrics,
  verifySanity,
  vuBudget,
} from './lib/common.js';

const VERIFY_RATE = envNumber('VERIFY_RATE', 200);
const LOGIN_RATE = envNumber('LOGIN_RATE', 10);
const ROTATIONS = Math.max(1, Math.floor(envNumber('ROTATIONS', 1)));
const rotateAtMs = __ENV.ROTATE_AT ? parseDuration(__ENV.ROTATE_AT) : Math.round(durationMs / 3);
const rotateEveryMs = __ENV.ROTATE_EVERY
  ? parseDuration(__ENV.ROTATE_EVERY)
  : Math.round((durationMs - rotateAtMs) / (ROTATIONS + 1));
const remintAfterMs = parseDuration(__ENV.REMINT_AFTER || '2s');
const REMINT_TOKENS = Math.max(1, Math.min(1000, Math.floor(envNumber('REMINT_TOKENS', 20))));
const POOL = Math.max(1, Math.min(1000, Math.floor(envNumber('TOKENS', 200))));
if (rotateAtMs + (ROTATIONS - 1) * rotateEveryMs + remintAfterMs >= durationMs) {
  throw new Error(
    'ROTATE_AT, ROTATIONS, ROTATE_EVERY and REMINT_AFTER leave no traffic after the last rotation'
  );
}

const rotations = new Counter('key_rotations');
const remints = new Counter('token_remints');

const verifyBudget = vuBudget(VERIFY_RATE, 50);
const loginBudget = vuBudget(LOGIN_RATE, 300);

export const options = Object.assign(baseOptions(), {
  scenarios: {
    verify: {
      executor: 'constant-arrival-rate',
      exec: 'verifyTraffic',
      rate: VERIFY_RATE,
      timeUnit: '1s',
      duration: formatDuration(durationMs),
      preAllocatedVUs: verifyBudget.preAllocatedVUs,
      maxVUs: verifyBudget.maxVUs,
      gracefulStop: '10s',
    },
    login: {
      executor: 'constant-arrival-rate',
      exec: 'loginTraffic',
      rate: LOGIN_RATE,
      timeUnit: '1s',
      duration: formatDuration(durationMs),
      preAllocatedVUs: loginBudget.preAllocatedVUs,
      maxVUs: loginBudget.maxVUs,
      gracefulStop: '10s',
    },
    rotate: {
      executor: 'per-vu-iterations',
      exec: 'rotate',
      vus: 1,
      iterations: ROTATIONS,
      startTime: formatDuration(rotateAtMs),
      maxDuration: formatDuration(durationMs - rotateAtMs),
      gracefulStop: '10s',
    },
  },
  thresholds: {
    verify_failed: ['rate==0'],
    login_failed: ['rate==0'],
    checks: ['rate==1'],
    http_req_failed: ['rate==0'],
    // Every rotation happened, and the post-rotation path (new tokens) was exercised.
    key_rotations: ['count==' + ROTATIONS],
    token_remints: ['count>=1'],
    dropped_iterations: ['count<=' + envNumber('MAX_DROPPED', 0)],
  },
});

export function setup() {
  preflight();
  const minted = mintTokens(POOL);
  verifySanity(minted.tokens[0]);
  return { tokens: minted.tokens };
}

// Rotations that are at least REMINT_AFTER old at `elapsed` ms into the run.
function rotationsBehind(elapsed) {
  let n = 0;
  for (let i = 0; i < ROTATIONS; i++) {
    if (elapsed >= rotateAtMs + i * rotateEveryMs + remintAfterMs) n = i + 1;
  }
  return n;
}

// Per VU: the tokens it verifies and the rotations they were minted after.
let tokens = null;
let mintedAfter = 0;

export function verifyTraffic(data) {
  const behind = rotationsBehind(Date.now() - exec.scenario.startTime);
  if (tokens === null) tokens = data.tokens;
  if (behind > mintedAfter) {
    const fresh = mintTokens(REMINT_TOKENS, true);
    if (fresh === null) {
      verifyMetrics.failed.add(1, { phase: 'after' });
      return;
    }
    tokens = fresh.tokens;
    mintedAfter = behind;
    remints.add(1);
  }
  const phase = mintedAfter > 0 ? 'after' : 'before';
  verify(tokens[exec.scenario.iterationInTest % tokens.length], { phase: phase });
}

export function loginTraffic() {
  const behind = rotationsBehind(Date.now() - exec.scenario.startTime);
  login({ tags: { phase: behind > 0 ? 'after' : 'before' } });
}

export function rotate() {
  if (rotateKeys() !== null) rotations.add(1);
  if (exec.scenario.iterationInTest + 1 < ROTATIONS) sleep(rotateEveryMs / 1000);
}

export default function (data) {
  verifyTraffic(data);
}

export function handleSummary(data) {
  return summaryOutputs('key_rotation', data);
}
