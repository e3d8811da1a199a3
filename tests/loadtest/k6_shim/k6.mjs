// SPDX-License-Identifier: Apache-2.0
// Stand-in for the `k6` module (v0.45 exports: check, fail, group, randomSeed, sleep).
import { sample, state } from './state.mjs';

export function check(val, sets, tags) {
  if (state.ctx.stage === 'init') throw new Error('check() called in the init context');
  let all = true;
  for (const name of Object.keys(sets)) {
    const f = sets[name];
    const ok = typeof f === 'function' ? Boolean(f(val)) : Boolean(f);
    const c = state.checks.get(name) || { passes: 0, fails: 0 };
    if (ok) c.passes++;
    else c.fails++;
    state.checks.set(name, c);
    sample('checks', ok ? 1 : 0, { ...(tags || {}), check: name });
    if (!ok) all = false;
  }
  return all;
}

export class K6Fail extends Error {}

export function fail(msg) {
  throw new K6Fail(String(msg));
}

export function group(name, fn) {
  return fn();
}

export function randomSeed() {}

export function sleep(seconds) {
  if (typeof seconds !== 'number' || !(seconds >= 0)) throw new TypeError('sleep() takes seconds');
  // Simulated time: recorded, not waited.
  state.sleeps.push(seconds);
}

export default { check, fail, group, randomSeed, sleep };
