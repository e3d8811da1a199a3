// SPDX-License-Identifier: Apache-2.0
// Degraded IdP: complete logins at a constant arrival rate while the mock IdP's latency, error and
// drop knobs (POST /admin/faults) are turned up mid-run and reset later. The server must fail
// fast with clear errors (a callback the IdP fails answers 502/504 with an IdP reason in about one
// IdP round trip: no retries, no pile-up of in-flight requests) and recover when the IdP does.
//
//   k6 run -e DURATION=40s loadtest/k6/idp_degraded.js
//
// Stages (tag `stage`): baseline -> degraded (faults on) -> settling -> recovered (faults off).
// Environment (besides lib/common.js): RATE logins/s [20], BASELINE [a quarter of DURATION],
// DEGRADED [two fifths of DURATION], SETTLE [2 x FAULT_LATENCY_MS + 2s], FAULT_LATENCY_MS [300],
// FAULT_ERROR_RATE [0.2], FAULT_DROP_RATE [0.05], FAIL_FAST_MS bound on p(99) of failed and
// degraded callbacks [FAULT_LATENCY_MS + 1000], MIN_SUCCESS success rate of baseline and
// recovered logins [0.999], MAX_DROPPED [0], PRE_VUS / MAX_VUS.
import exec from 'k6/execution';
import { Counter, Rate } from 'k6/metrics';
import {
  baseOptions,
  durationMs,
  envNumber,
  formatDuration,
  login,
  parseDuration,
  preflight,
  setFaults,
  summaryOutputs,
  vuBudget,
  warn,
} from './lib/common.js';

const RATE = envNumber('RATE', 20);
const FAULTS = {
  latency_ms: Math.round(envNumber('FAULT_LATENCY_MS', 300)),
  error_rate: envNumber('FAULT_ERROR_RATE', 0.2),
  drop_rate: envNumber('FAULT_DROP_RATE', 0.05),
};
const NO_FAULTS = { latency_ms: 0, error_rate: 0, drop_rate: 0 };
const baselineMs = __ENV.BASELINE ? parseDuration(__ENV.BASELINE) : Math.round(durationMs / 4);
const degradedMs = __ENV.DEGRADED
  ? parseDuration(__ENV.DEGRADED)
  : Math.round((durationMs * 2) / 5);
const settleMs = __ENV.SETTLE ? parseDuration(__ENV.SETTLE) : 2 * FAULTS.latency_ms + 2000;
const FAIL_FAST_MS = envNumber('FAIL_FAST_MS', FAULTS.latency_ms + 1000);
const MIN_SUCCESS = envNumber('MIN_SUCCESS', 0.999);
// Logins that start this close before the faults go on may meet them.
const GUARD_MS = 1000;
const faultsOnAt = baselineMs;
const faultsOffAt = baselineMs + degradedMs;
const recoveredAt = faultsOffAt + settleMs;
if (faultsOnAt < GUARD_MS + 1000 || recoveredAt + 2000 > durationMs) {
  throw new Error(
    'DURATION too short for BASELINE, DEGRADED and SETTLE: need a baseline and a recovered stage'
  );
}

const loginSuccess = new Rate('login_success');
const unclearFailures = new Counter('unclear_failures');
const degradedFailures = new Counter('degraded_callback_failures');
const idpAuthorizeFaults = new Counter('idp_authorize_faults');

const budget = vuBudget(RATE, 2 * FAULTS.latency_ms + 300);

const thresholds = {
  // Before the faults and after the recovery, logins succeed.
  'login_success{stage:baseline}': ['rate>=' + MIN_SUCCESS],
  'login_success{stage:recovered}': ['rate>=' + MIN_SUCCESS],
  // Fail fast: a callback the IdP fails comes back in about one IdP round trip, and so does
  // every callback while the IdP is slow (no retries, no waiting for a timeout).
  failed_callback_duration: ['p(99)<' + FAIL_FAST_MS],
  'callback_duration{stage:degraded}': ['p(99)<' + FAIL_FAST_MS],
  // Clear errors: every failure names an IdP reason (502/504 JSON), nothing else fails.
  unclear_failures: ['count==0'],
  // No pile-up: k6 never ran out of VUs because requests hung.
  dropped_iterations: ['count<=' + envNumber('MAX_DROPPED', 0)],
};
if (FAULTS.error_rate > 0 || FAULTS.drop_rate > 0) {
  // The faults reached the server's token calls (else the run proved nothing).
  thresholds.degraded_callback_failures = ['count>0'];
}

export const options = Object.assign(baseOptions(), {
  scenarios: {
    logins: {
      executor: 'constant-arrival-rate',
      exec: 'loginTraffic',
      rate: RATE,
      timeUnit: '1s',
      duration: formatDuration(durationMs),
      preAllocatedVUs: budget.preAllocatedVUs,
      maxVUs: budget.maxVUs,
      gracefulStop: '20s',
    },
    faults_on: {
      executor: 'per-vu-iterations',
      exec: 'faultsOn',
      vus: 1,
      iterations: 1,
      startTime: formatDuration(faultsOnAt),
      maxDuration: '30s',
    },
    faults_off: {
      executor: 'per-vu-iterations',
      exec: 'faultsOff',
      vus: 1,
      iterations: 1,
      startTime: formatDuration(faultsOffAt),
      maxDuration: '30s',
    },
  },
  thresholds: thresholds,
});

export function setup() {
  if (!setFaults(NO_FAULTS))
    throw new Error('cannot reset the mock IdP faults through ' + '/admin/faults');
  preflight();
  return {};
}

function stageAt(elapsed) {
  if (elapsed < faultsOnAt - GUARD_MS) return 'baseline';
  if (elapsed < faultsOffAt) return 'degraded';
  if (elapsed < recoveredAt) return 'settling';
  return 'recovered';
}

export function loginTraffic() {
  const stage = stageAt(Date.now() - exec.scenario.startTime);
  const faultsPossible = stage === 'degraded' || stage === 'settling';
  const r = login({ tags: { stage: stage }, allowIdpFault: faultsPossible });
  loginSuccess.add(r.ok ? 1 : 0, { stage: stage });
  if (r.ok) return;
  if (r.idpFault && r.step === 'authorize') {
    // The IdP failed the browser's own request: not the server's doing.
    idpAuthorizeFaults.add(1, { stage: stage });
  } else if (r.idpFault && r.step === 'callback') {
    degradedFailures.add(1, { stage: stage, reason: r.reason || 'none' });
    if (!r.clear) unclearFailures.add(1, { stage: stage, step: 'callback' });
  } else if (faultsPossible) {
    // Any other failure while the IdP is degraded (a 500, a lost state, ...) is not a clear
    // IdP error; in baseline and recovered stages login_success already counts it.
    unclearFailures.add(1, { stage: stage, step: r.step });
    warn('degraded stage: unexpected failure at ' + r.step + ' (status ' + r.status + ')');
  }
}

export function faultsOn() {
  setFaults(FAULTS);
}

export function faultsOff() {
  setFaults(NO_FAULTS);
}

export default loginTraffic;

// Leave the IdP healthy whatever happened.
export function teardown() {
  setFaults(NO_FAULTS);
}

export function handleSummary(data) {
  return summaryOutputs('idp_degraded', data);
}
