// SPDX-License-Identifier: Apache-2.0
// Stand-in for `k6/metrics` (v0.45: Counter, Gauge, Rate, Trend), recording every sample.
import { BUILTIN_METRICS, sample, state } from './state.mjs';

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,127}$/;

function declare(name, type, isTime) {
  if (state.ctx.stage !== 'init')
    throw new Error(`metric ${name} created outside the init context`);
  if (!NAME.test(name)) throw new Error(`invalid metric name "${name}"`);
  if (name in BUILTIN_METRICS) throw new Error(`metric ${name} redefines a built-in metric`);
  const prev = state.metricTypes.get(name);
  if (prev && prev.type !== type)
    throw new Error(`metric ${name} declared as ${prev.type} and ${type}`);
  state.metricTypes.set(name, { type, contains: isTime ? 'time' : 'default' });
}

class Metric {
  constructor(name, type, isTime) {
    declare(name, type, isTime);
    this.name = name;
  }
  add(value, tags) {
    if (state.ctx.stage === 'init')
      throw new Error(`${this.name}.add() called in the init context`);
    if (tags !== undefined && (tags === null || typeof tags !== 'object'))
      throw new TypeError('tags must be an object');
    for (const k in tags || {})
      if (typeof tags[k] !== 'string')
        throw new TypeError(`tag ${k} of ${this.name} is not a string`);
    const v = typeof value === 'boolean' ? (value ? 1 : 0) : Number(value);
    if (!Number.isFinite(v)) throw new TypeError(`${this.name}.add(${value}): not a number`);
    sample(this.name, v, tags);
    return true;
  }
}

export class Counter extends Metric {
  constructor(name, isTime) {
    super(name, 'counter', isTime);
  }
}
export class Gauge extends Metric {
  constructor(name, isTime) {
    super(name, 'gauge', isTime);
  }
}
export class Rate extends Metric {
  constructor(name) {
    super(name, 'rate', false);
  }
}
export class Trend extends Metric {
  constructor(name, isTime) {
    super(name, 'trend', isTime);
  }
}

export default { Counter, Gauge, Rate, Trend };
