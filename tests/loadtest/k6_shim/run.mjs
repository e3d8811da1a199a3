// SPDX-License-Identifier: Apache-2.0
// Runs one k6 script under the k6 v0.45 stand-ins (start node with --import ./register.mjs):
//   1. source checks (imports, syntax and globals kept out; see static_check.mjs);
//   2. imports it: only k6, k6/http, k6/metrics, k6/execution and relative .js files resolve, and
//      only the names those modules have in v0.45 link;
//   3. checks the exports: `options` with valid scenarios (v0.45 executors and their fields) and
//      thresholds (known metrics, expressions valid for the metric type), an exec function per
//      scenario (or a default), handleSummary;
//   4. --fake (default): runs setup(), a simulated timeline of every scenario (iterations spread
//      over each scenario's time window, controller scenarios at their startTime), teardown()
//      and handleSummary() against a simulated demo; every check and every threshold must pass;
//   4'. --live: runs setup() and one iteration of the script's first scenario against the real
//      servers named by BASE_URL / IDP_URL; every check must pass.
// Exit status 0 when all holds, 1 otherwise (problems listed on stderr).
import { pathToFileURL } from 'node:url';
import { basename } from 'node:path';
import { state, reset } from './state.mjs';
import { _resetJar } from './k6_http.mjs';
import { checkScript } from './static_check.mjs';
import { makeFakeDemo } from './fake_demo.mjs';
import { liveTransport } from './live.mjs';

const args = process.argv.slice(2);
const live = args.includes('--live');
const script = args.find((a) => !a.startsWith('--'));
if (!script) {
  console.error('usage: node --import ./register.mjs run.mjs [--live] SCRIPT.js');
  process.exit(2);
}
const name = basename(script, '.js');
const problems = [];
const problem = (m) => problems.push(m);

function finish() {
  if (problems.length) {
    console.error(`FAIL ${script}`);
    for (const p of problems) console.error('  ' + p);
    process.exit(1);
  }
  let passes = 0;
  for (const c of state.checks.values()) passes += c.passes;
  const reqs = state.samples.filter((x) => x.metric === 'http_reqs').length;
  console.log(
    `ok   ${script} (${live ? 'live' : 'simulated'}: ${reqs} requests, ${state.checks.size} checks passed ${passes} times)`
  );
  process.exit(0);
}

// ---- 1. source checks
const sc = checkScript(script);
sc.problems.forEach(problem);
if (problems.length) finish();

// ---- 2. import under the stand-ins
const defaults = {
  BASE_URL: 'http://localhost:8080',
  IDP_URL: 'https://localhost:9443',
  TENANT: '3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70',
  CLIENT_ID: 'b7e4d2a1-5c3f-4a9e-8d6b-1f0e9c2a7d35',
  ORG: 'demo',
};
const env = {};
for (const [k, v] of Object.entries(process.env)) if (/^[A-Z][A-Z0-9_]*$/.test(k)) env[k] = v;
if (!live) {
  // The simulated demo answers the demo's identities; the run is short and quiet.
  Object.assign(env, defaults, { DURATION: env.DURATION || '30s', QUIET: '1' });
}
env.SUMMARY_DIR = env.K6_SHIM_SUMMARY_DIR || '/tmp/k6-shim';
globalThis.__ENV = env;
globalThis.__VU = 0;
globalThis.__ITER = 0;
state.ctx.stage = 'init';

let mod;
try {
  mod = await import(pathToFileURL(script).href);
} catch (e) {
  problem(`import failed: ${e && e.message ? e.message : e}`);
  finish();
}

// ---- 3. exports
const EXECUTORS = {
  'shared-iterations': { need: [], may: ['vus', 'iterations', 'maxDuration'] },
  'per-vu-iterations': { need: [], may: ['vus', 'iterations', 'maxDuration'] },
  'constant-vus': { need: ['duration'], may: ['vus', 'duration'] },
  'ramping-vus': { need: ['stages'], may: ['startVUs', 'stages', 'gracefulRampDown'] },
  'constant-arrival-rate': {
    need: ['rate', 'duration', 'preAllocatedVUs'],
    may: ['rate', 'timeUnit', 'duration', 'preAllocatedVUs', 'maxVUs'],
  },
  'ramping-arrival-rate': {
    need: ['stages', 'preAllocatedVUs'],
    may: ['startRate', 'timeUnit', 'stages', 'preAllocatedVUs', 'maxVUs'],
  },
};
const COMMON_SCENARIO = ['executor', 'startTime', 'gracefulStop', 'exec', 'env', 'tags'];
const OPTIONS = new Set([
  'batch',
  'batchPerHost',
  'blacklistIPs',
  'blockHostnames',
  'discardResponseBodies',
  'dns',
  'duration',
  'executionSegment',
  'executionSegmentSequence',
  'ext',
  'hosts',
  'httpDebug',
  'insecureSkipTLSVerify',
  'iterations',
  'localIPs',
  'maxRedirects',
  'minIterationDuration',
  'noConnectionReuse',
  'noCookiesReset',
  'noVUConnectionReuse',
  'rps',
  'scenarios',
  'setupTimeout',
  'stages',
  'summaryTimeUnit',
  'summaryTrendStats',
  'systemTags',
  'tags',
  'teardownTimeout',
  'thresholds',
  'throw',
  'tlsAuth',
  'tlsCipherSuites',
  'tlsVersion',
  'userAgent',
  'vus',
]);
const GO_DURATION = /^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/;

function ms(d) {
  if (typeof d === 'number') return d;
  if (!GO_DURATION.test(String(d))) throw new Error(`not a duration: ${d}`);
  let t = 0;
  const unit = { h: 3600000, m: 60000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 1e-6 };
  for (const m of String(d).matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g))
    t += Number(m[1]) * unit[m[2]];
  return t;
}

const options = mod.options;
const scenarios = [];
if (!options || typeof options !== 'object') problem('exports no options object');
else {
  for (const k of Object.keys(options))
    if (!OPTIONS.has(k)) problem(`options.${k} is not a k6 v0.45 option`);
  if (!options.scenarios || !Object.keys(options.scenarios).length)
    problem('options.scenarios is missing or empty');
  if (!options.thresholds || !Object.keys(options.thresholds).length)
    problem('options.thresholds is missing or empty');
  if (options.summaryTrendStats)
    for (const s of options.summaryTrendStats)
      if (!/^(avg|min|med|max|count|p\(\d+(\.\d+)?\))$/.test(s)) problem(`summaryTrendStats: ${s}`);
  for (const [sn, s] of Object.entries(options.scenarios || {})) {
    const ex = EXECUTORS[s.executor];
    if (!ex) {
      problem(`scenario ${sn}: executor ${s.executor} is not one every k6 >= v0.45 has`);
      continue;
    }
    for (const k of Object.keys(s))
      if (!COMMON_SCENARIO.includes(k) && !ex.may.includes(k))
        problem(`scenario ${sn}: ${k} is not a field of ${s.executor}`);
    for (const k of ex.need)
      if (s[k] === undefined) problem(`scenario ${sn}: ${s.executor} needs ${k}`);
    const fn = s.exec || 'default';
    if (typeof mod[fn] !== 'function')
      problem(`scenario ${sn}: exec function ${fn} is not exported`);
    try {
      for (const k of [
        'startTime',
        'gracefulStop',
        'duration',
        'maxDuration',
        'timeUnit',
        'gracefulRampDown',
      ])
        if (s[k] !== undefined) ms(s[k]);
      for (const st of s.stages || []) {
        ms(st.duration);
        if (!(st.target >= 0)) problem(`scenario ${sn}: stage target ${st.target}`);
      }
      for (const k of ['rate', 'vus', 'iterations', 'preAllocatedVUs', 'maxVUs', 'startRate']) {
        if (s[k] !== undefined && !(Number.isInteger(s[k]) ? s[k] >= 0 : s[k] > 0))
          problem(`scenario ${sn}: ${k} = ${s[k]}`);
      }
      if (s.maxVUs !== undefined && s.maxVUs < s.preAllocatedVUs)
        problem(`scenario ${sn}: maxVUs < preAllocatedVUs`);
      const start = ms(s.startTime || '0s');
      const iterBased = s.executor.endsWith('iterations');
      const len = iterBased
        ? 0
        : s.stages
          ? s.stages.reduce((a, st) => a + ms(st.duration), 0)
          : ms(s.duration);
      scenarios.push({ name: sn, s, start, end: start + len, iterBased, fn });
    } catch (e) {
      problem(`scenario ${sn}: ${e.message}`);
    }
  }
}
if (typeof mod.handleSummary !== 'function') problem('exports no handleSummary function');
for (const f of ['setup', 'teardown'])
  if (mod[f] !== undefined && typeof mod[f] !== 'function') problem(`${f} is not a function`);

const THRESHOLD =
  /^\s*(avg|min|max|med|count|rate|value|p\((\d+(?:\.\d+)?)\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;
const AGG_BY_TYPE = {
  trend: ['avg', 'min', 'max', 'med', 'p'],
  rate: ['rate'],
  counter: ['count', 'rate'],
  gauge: ['value'],
};
const thresholds = [];
for (const [key, list] of Object.entries((options && options.thresholds) || {})) {
  const m = /^([a-zA-Z_][a-zA-Z0-9_]*)(?:\{([^}]*)\})?$/.exec(key);
  if (!m) {
    problem(`threshold key ${key} is malformed`);
    continue;
  }
  const t = state.metricTypes.get(m[1]);
  if (!t) {
    problem(`threshold on ${m[1]}: no such built-in or custom metric`);
    continue;
  }
  const tags = {};
  for (const part of (m[2] || '').split(',').filter((x) => x.trim())) {
    const [k, v] = part.split(':').map((x) => x.trim());
    if (!k || v === undefined) problem(`threshold key ${key}: tag filter ${part}`);
    tags[k] = v;
  }
  if (!Array.isArray(list) || !list.length) problem(`threshold ${key}: not a non-empty array`);
  for (const item of list || []) {
    const expr = typeof item === 'string' ? item : item && item.threshold;
    const e = THRESHOLD.exec(String(expr));
    if (!e) {
      problem(`threshold ${key}: "${expr}" is not a k6 threshold expression`);
      continue;
    }
    const agg = e[2] !== undefined ? 'p' : e[1];
    if (!AGG_BY_TYPE[t.type].includes(agg))
      problem(`threshold ${key}: ${e[1]} does not apply to a ${t.type}`);
    thresholds.push({
      key,
      metric: m[1],
      tags,
      expr: String(expr),
      agg: e[1],
      p: e[2] !== undefined ? Number(e[2]) : null,
      op: e[3],
      value: Number(e[4]),
    });
  }
}
if (problems.length) finish();

// ---- 4. run
state.transport = live ? liveTransport : makeFakeDemo(defaults).transport;
state.options = options;

function call(stage, fn, ...a) {
  state.ctx.stage = stage;
  try {
    return fn(...a);
  } catch (e) {
    problem(`${stage}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
    return undefined;
  }
}

let data = mod.setup ? call('setup', mod.setup) : undefined;
if (problems.length) finish();
data = data === undefined ? undefined : JSON.parse(JSON.stringify(data)); // k6 hands VUs a JSON copy

let iteration = 0;
function iterate(sc, t) {
  _resetJar(); // k6 empties the VU jar between iterations
  state.ctx.scenario = {
    name: sc.name,
    executor: sc.s.executor,
    startTime: Date.now() - (t - sc.start),
    progress: sc.end > sc.start ? Math.min(1, (t - sc.start) / (sc.end - sc.start)) : 0,
    iterationInInstance: sc.iter || 0,
    iterationInTest: sc.iter || 0,
  };
  state.ctx.vu = {
    idInInstance: 1,
    idInTest: 1,
    iterationInInstance: iteration,
    iterationInScenario: sc.iter || 0,
  };
  globalThis.__VU = 1;
  globalThis.__ITER = iteration++;
  sc.iter = (sc.iter || 0) + 1;
  const t0 = Date.now();
  call('vu', mod[sc.fn], data);
  state.samples.push({
    metric: 'iterations',
    type: 'counter',
    value: 1,
    tags: { scenario: sc.name },
  });
  state.samples.push({
    metric: 'iteration_duration',
    type: 'trend',
    value: Date.now() - t0,
    tags: { scenario: sc.name },
  });
}

const totalMs = Math.max(1, ...scenarios.map((s) => s.end));
if (live) {
  const main = scenarios.find((s) => !s.iterBased) || scenarios[0];
  iterate(main, main.start);
} else {
  const TICKS = 60;
  for (let k = 0; k < TICKS && !problems.length; k++) {
    const t = (totalMs * (k + 0.5)) / TICKS;
    for (const sc of scenarios) {
      if (sc.iterBased) {
        if (!sc.done && t >= sc.start) {
          sc.done = true;
          const n =
            (sc.s.iterations || 1) * (sc.s.executor === 'per-vu-iterations' ? sc.s.vus || 1 : 1);
          for (let i = 0; i < n; i++) iterate(sc, t);
        }
      } else if (t >= sc.start && t < sc.end) {
        iterate(sc, t);
        iterate(sc, t);
      }
    }
  }
}
if (mod.teardown) call('teardown', mod.teardown, data);

// ---- checks and thresholds
for (const [cn, c] of state.checks)
  if (c.fails) problem(`check "${cn}" failed ${c.fails} of ${c.passes + c.fails}`);

function matching(metric, tags) {
  return state.samples
    .filter((s) => s.metric === metric && Object.entries(tags).every(([k, v]) => s.tags[k] === v))
    .map((s) => s.value);
}
function percentile(sorted, p) {
  if (!sorted.length) return 0;
  const idx = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(idx);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (idx - lo);
}
function aggregate(type, values) {
  const v = {};
  if (type === 'trend') {
    const s = [...values].sort((a, b) => a - b);
    v.avg = s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0;
    v.min = s.length ? s[0] : 0;
    v.max = s.length ? s[s.length - 1] : 0;
    v.med = percentile(s, 50);
    for (const p of [90, 95, 99]) v[`p(${p})`] = percentile(s, p);
    v.count = s.length;
    v._sorted = s;
  } else if (type === 'rate') {
    v.passes = values.filter((x) => x !== 0).length;
    v.fails = values.length - v.passes;
    v.rate = values.length ? v.passes / values.length : 0;
  } else if (type === 'counter') {
    v.count = values.reduce((a, b) => a + b, 0);
    v.rate = v.count / (totalMs / 1000);
  } else {
    v.value = values.length ? values[values.length - 1] : 0;
    v.min = values.length ? Math.min(...values) : 0;
    v.max = values.length ? Math.max(...values) : 0;
  }
  return v;
}
const OPS = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '==': (a, b) => a === b,
  '===': (a, b) => a === b,
  '!=': (a, b) => a !== b,
};

const summaryMetrics = {};
for (const [mn, t] of state.metricTypes) {
  const values = matching(mn, {});
  if (values.length)
    summaryMetrics[mn] = { type: t.type, contains: t.contains, values: aggregate(t.type, values) };
}
if (!live) {
  for (const th of thresholds) {
    const t = state.metricTypes.get(th.metric);
    const v = aggregate(t.type, matching(th.metric, th.tags));
    const got = th.p !== null ? percentile(v._sorted, th.p) : v[th.agg];
    const ok = OPS[th.op](got, th.value);
    if (!ok) problem(`threshold ${th.key}: ${th.expr} fails in the simulated run (got ${got})`);
    const entry = (summaryMetrics[th.key] = summaryMetrics[th.key] || {
      type: t.type,
      contains: t.contains,
      values: v,
    });
    entry.thresholds = entry.thresholds || {};
    entry.thresholds[th.expr] = { ok };
  }
}
for (const m of Object.values(summaryMetrics)) delete m.values._sorted;

// ---- handleSummary on a v0.45-shaped summary object
const summaryData = {
  root_group: {
    name: '',
    path: '',
    id: 'd41d8cd98f00b204e9800998ecf8427e',
    groups: [],
    checks: [...state.checks].map(([cn, c]) => ({
      name: cn,
      path: '::' + cn,
      id: cn,
      passes: c.passes,
      fails: c.fails,
    })),
  },
  options: {
    summaryTrendStats: (options && options.summaryTrendStats) || [],
    summaryTimeUnit: '',
    noColor: true,
  },
  state: { isStdOutTTY: false, isStdErrTTY: false, testRunDurationMs: totalMs },
  metrics: summaryMetrics,
};
const out = call('summary', mod.handleSummary, summaryData);
if (out !== undefined) {
  const jsonPath = `${env.SUMMARY_DIR}/k6-${name}-summary.json`;
  if (!out || typeof out.stdout !== 'string' || !/thresholds: \d+ passed/.test(out.stdout))
    problem('handleSummary: no text summary on stdout');
  if (typeof out[jsonPath] !== 'string') problem(`handleSummary: no JSON export at ${jsonPath}`);
  else if (JSON.parse(out[jsonPath]).metrics === undefined)
    problem('handleSummary: the JSON export is not the summary object');
  for (const k of Object.keys(out || {}))
    if (typeof out[k] !== 'string') problem(`handleSummary: ${k} is not a string`);
  if (process.env.K6_SHIM_SHOW_SUMMARY) console.log(out.stdout);
}
if (!state.samples.some((s) => s.metric === 'http_reqs' && s.tags.scenario))
  problem('no request was made by any scenario');

finish();
