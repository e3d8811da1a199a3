// SPDX-License-Identifier: Apache-2.0
// Node ESM resolve hook: the modules k6 v0.45 provides (`k6`, `k6/http`, `k6/metrics`,
// `k6/execution`) resolve to the stand-ins next to this file; anything else a k6 script imports
// other than a relative `.js` file (another k6/* module, node:*, npm packages, remote URLs) fails.
const STUBS = {
  k6: './k6.mjs',
  'k6/http': './k6_http.mjs',
  'k6/metrics': './k6_metrics.mjs',
  'k6/execution': './k6_execution.mjs',
};
const shimDir = new URL('./', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (Object.prototype.hasOwnProperty.call(STUBS, specifier)) {
    return { url: new URL(STUBS[specifier], import.meta.url).href, shortCircuit: true };
  }
  const parent = context.parentURL || '';
  const fromScript = parent.startsWith('file:') && !parent.startsWith(shimDir);
  if (fromScript) {
    if (/^k6(\/|$)/.test(specifier)) {
      throw new Error(
        `k6 v0.45 compatibility: "${specifier}" (imported by ${parent}) is not one of k6, k6/http, k6/metrics, k6/execution`
      );
    }
    if (!/^\.{1,2}\//.test(specifier) || !specifier.endsWith('.js')) {
      throw new Error(
        `k6 script import "${specifier}" (by ${parent}) is not a relative .js module or a k6 module`
      );
    }
  }
  return nextResolve(specifier, context);
}

// k6 scripts are ES modules in `.js` files with no package.json around them: load them as such.
export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('.js') && !url.startsWith(shimDir)) {
    return nextLoad(url, { ...context, format: 'module' });
  }
  return nextLoad(url, context);
}
