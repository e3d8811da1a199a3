// SPDX-License-Identifier: Apache-2.0
// /api/verify at a constant arrival rate with a bounded pool of distinct access tokens minted in
// setup() by the mock IdP (setup() data is copied into every VU, hence at most 1,000), and a
// repeated-token variant (one token: the verified-token cache's best case).
//
//   k6 run -e DURATION=20s loadtest/k6/verify.js                     # distinct tokens
//   k6 run -e DURATION=20s -e VARIANT=repeated loadtest/k6/verify.js # one token, repeated
//   k6 run -e DURATION=20s -e VARIANT=both loadtest/k6/verify.js     # one after the other
//
// Environment (besides lib/common.js): RATE requests/s [500], VARIANT distinct|repeated|both
// [distinct], TOKENS pool size, at most 1000 [1000] (TOKENS=1 is the repeated case too),
// MAX_FAILURE_RATE [0.001], VERIFY_P95_MS [20], VERIFY_P99_MS [50], MAX_DROPPED [0],
// PRE_VUS / MAX_VUS. AUDIENCE must be one of the organisation's access_tokens.audiences.
import exec from 'k6/execution';
import {
  baseOptions,
  durationMs,
  envNumber,
  envString,
  formatDuration,
  mintTokens,
  preflight,
  summaryOutputs,
  verify,
  verifySanity,
  vuBudget,
} from './lib/common.js';

const RATE = envNumber('RATE', 500);
const VARIANT = envString('VARIANT', 'distinct');
const POOL = Math.max(1, Math.min(1000, Math.floor(envNumber('TOKENS', 1000))));
if (['distinct', 'repeated', 'both'].indexOf(VARIANT) < 0) {
  throw new Error('VARIANT must be distinct, repeated or both (got "' + VARIANT + '")');
}

const budget = vuBudget(RATE, 50);
const scenarios = {};
const thresholds = {
  checks: ['rate>' + (1 - envNumber('MAX_FAILURE_RATE', 0.001))],
  verify_failed: ['rate<' + envNumber('MAX_FAILURE_RATE', 0.001)],
  dropped_iterations: ['count<=' + envNumber('MAX_DROPPED', 0)],
};
const latency = [
  'p(95)<' + envNumber('VERIFY_P95_MS', 20),
  'p(99)<' + envNumber('VERIFY_P99_MS', 50),
];
let start = 0;
['distinct', 'repeated'].forEach((name) => {
  if (VARIANT !== name && VARIANT !== 'both') return;
  scenarios[name] = {
    executor: 'constant-arrival-rate',
    exec: name === 'distinct' ? 'verifyDistinct' : 'verifyRepeated',
    rate: RATE,
    timeUnit: '1s',
    duration: formatDuration(durationMs),
    startTime: formatDuration(start),
    preAllocatedVUs: budget.preAllocatedVUs,
    maxVUs: budget.maxVUs,
    gracefulStop: '5s',
    tags: { variant: name },
  };
  // Thresholds only for the variants that run: an empty sub-metric would still be evaluated.
  thresholds['verify_duration{variant:' + name + '}'] = latency;
  thresholds['verify_failed{variant:' + name + '}'] = [
    'rate<' + envNumber('MAX_FAILURE_RATE', 0.001),
  ];
  start += durationMs + 5000;
});

export const options = Object.assign(baseOptions(), {
  scenarios: scenarios,
  thresholds: thresholds,
});

export function setup() {
  preflight();
  const minted = mintTokens(POOL);
  verifySanity(minted.tokens[0]);
  return { tokens: minted.tokens, kid: minted.kid };
}

export function verifyDistinct(data) {
  // Cycle through the pool in arrival order, shared by all VUs of the scenario.
  const i = exec.scenario.iterationInTest % data.tokens.length;
  verify(data.tokens[i], { variant: 'distinct' });
}

export function verifyRepeated(data) {
  verify(data.tokens[0], { variant: 'repeated' });
}

export default function (data) {
  if (VARIANT === 'repeated') verifyRepeated(data);
  else verifyDistinct(data);
}

export function handleSummary(data) {
  return summaryOutputs('verify', data);
}
