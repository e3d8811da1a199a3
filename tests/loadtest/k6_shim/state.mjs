// SPDX-License-Identifier: Apache-2.0
// Shared state of the k6 stand-in modules: recorded samples, the execution context the harness
// sets per iteration, the HTTP transport (simulated demo or real sockets) and the VU cookie jar.

export const state = {
  samples: [], // {metric, type, contains, value, tags}
  metricTypes: new Map(), // name -> {type, contains}
  checks: new Map(), // name -> {passes, fails}
  transport: null, // (req) -> {status, headers: [[name, value]], body, duration, error}
  ctx: {
    scenario: {
      name: 'default',
      executor: 'shared-iterations',
      startTime: Date.now(),
      progress: 0,
      iterationInInstance: 0,
      iterationInTest: 0,
    },
    vu: { idInInstance: 1, idInTest: 1, iterationInInstance: 0, iterationInScenario: 0 },
    stage: 'init', // init | setup | vu | teardown | summary
  },
  sleeps: [],
  log: [],
};

export const BUILTIN_METRICS = {
  http_reqs: ['counter', 'default'],
  http_req_duration: ['trend', 'time'],
  http_req_blocked: ['trend', 'time'],
  http_req_connecting: ['trend', 'time'],
  http_req_tls_handshaking: ['trend', 'time'],
  http_req_sending: ['trend', 'time'],
  http_req_waiting: ['trend', 'time'],
  http_req_receiving: ['trend', 'time'],
  http_req_failed: ['rate', 'default'],
  iterations: ['counter', 'default'],
  iteration_duration: ['trend', 'time'],
  dropped_iterations: ['counter', 'default'],
  vus: ['gauge', 'default'],
  vus_max: ['gauge', 'default'],
  checks: ['rate', 'default'],
  data_sent: ['counter', 'data'],
  data_received: ['counter', 'data'],
  group_duration: ['trend', 'time'],
};
for (const [name, [type, contains]] of Object.entries(BUILTIN_METRICS))
  state.metricTypes.set(name, { type, contains });

export function sample(metric, value, tags) {
  const t = state.metricTypes.get(metric);
  state.samples.push({
    metric,
    type: t ? t.type : 'unknown',
    value: Number(value),
    tags: { ...vuTags(), ...(tags || {}) },
  });
}

export function vuTags() {
  return state.ctx.stage === 'vu' ? { scenario: state.ctx.scenario.name } : {};
}

export function reset() {
  state.samples = [];
  state.checks = new Map();
  state.sleeps = [];
  state.log = [];
  for (const [name] of state.metricTypes)
    if (!(name in BUILTIN_METRICS)) state.metricTypes.delete(name);
}

// A property-checked view: reading a member k6 v0.45 does not have throws, so a script that uses
// a newer API fails the harness instead of silently getting undefined.
const PASS = new Set(['then', 'toJSON', 'constructor', 'inspect', 'valueOf', 'toString', 'length']);
export function strict(obj, what) {
  return new Proxy(obj, {
    get(target, prop, receiver) {
      if (typeof prop === 'symbol' || PASS.has(prop) || prop in target)
        return Reflect.get(target, prop, receiver);
      throw new TypeError(`${what}.${String(prop)} is not part of the k6 v0.45 API`);
    },
  });
}
