// SPDX-License-Identifier: Apache-2.0
// Stand-in for `k6/execution` with the members k6 v0.45 documents; any other member throws.
import { state, strict } from './state.mjs';

function only(what, stages) {
  if (!stages.includes(state.ctx.stage))
    throw new Error(`${what} is not available in the ${state.ctx.stage} stage`);
}

const instance = strict(
  {
    get iterationsInterrupted() {
      return 0;
    },
    get iterationsCompleted() {
      return 0;
    },
    get vusActive() {
      return 1;
    },
    get vusInitialized() {
      return 1;
    },
    get currentTestRunDuration() {
      return Date.now() - state.ctx.scenario.startTime;
    },
  },
  'exec.instance'
);
const scenario = strict(
  {
    get name() {
      only('exec.scenario', ['vu']);
      return state.ctx.scenario.name;
    },
    get executor() {
      only('exec.scenario', ['vu']);
      return state.ctx.scenario.executor;
    },
    get startTime() {
      only('exec.scenario', ['vu']);
      return state.ctx.scenario.startTime;
    },
    get progress() {
      only('exec.scenario', ['vu']);
      return state.ctx.scenario.progress;
    },
    get iterationInInstance() {
      only('exec.scenario', ['vu']);
      return state.ctx.scenario.iterationInInstance;
    },
    get iterationInTest() {
      only('exec.scenario', ['vu']);
      return state.ctx.scenario.iterationInTest;
    },
  },
  'exec.scenario'
);
const vu = strict(
  {
    get idInInstance() {
      return state.ctx.vu.idInInstance;
    },
    get idInTest() {
      return state.ctx.vu.idInTest;
    },
    get iterationInInstance() {
      return state.ctx.vu.iterationInInstance;
    },
    get iterationInScenario() {
      return state.ctx.vu.iterationInScenario;
    },
    tags: {},
    metrics: strict({ tags: {}, metadata: {} }, 'exec.vu.metrics'),
  },
  'exec.vu'
);
const test = strict(
  {
    abort(msg) {
      throw new Error('exec.test.abort(' + (msg || '') + ')');
    },
    get options() {
      return {};
    },
  },
  'exec.test'
);

export default strict({ instance, scenario, vu, test }, 'exec');
