// SPDX-License-Identifier: Apache-2.0
// Source-level k6 v0.45 compatibility checks on a script and the files it imports: a small
// tokenizer (strings, templates, comments, regex literals) finds the imports and the syntax and
// globals this project keeps out of its k6 scripts.
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';

export const K6_MODULES = ['k6', 'k6/http', 'k6/metrics', 'k6/execution'];

// Syntax kept out: newer than what every k6 >= v0.45 is known to run, or not ES at all.
const FORBIDDEN_PUNCT = {
  '?.': 'optional chaining (?.)',
  '??': 'nullish coalescing (??)',
  '??=': 'logical assignment (??=)',
  '||=': 'logical assignment (||=)',
  '&&=': 'logical assignment (&&=)',
};
// Globals of browsers / Node that k6 v0.45 does not define.
const FORBIDDEN_GLOBALS = new Set([
  'URL',
  'URLSearchParams',
  'fetch',
  'TextEncoder',
  'TextDecoder',
  'crypto',
  'structuredClone',
  'Buffer',
  'process',
  'require',
  'module',
  'exports',
  'setTimeout',
  'setInterval',
  'clearTimeout',
  'clearInterval',
  'queueMicrotask',
  'atob',
  'btoa',
  'globalThis',
  'window',
  'AbortController',
  'performance',
]);
const PUNCTS = [
  '>>>=',
  '...',
  '===',
  '!==',
  '**=',
  '<<=',
  '>>=',
  '>>>',
  '??=',
  '||=',
  '&&=',
  '=>',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '??',
  '?.',
  '++',
  '--',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '**',
  '<<',
  '>>',
];
const REGEX_AFTER_KEYWORD = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
]);

export function tokenize(src) {
  const toks = [];
  let i = 0;
  let line = 1;
  const braceStack = []; // 'tpl' for a ${ inside a template, '{' otherwise
  const prevSig = () => (toks.length ? toks[toks.length - 1] : null);
  const regexAllowed = () => {
    const p = prevSig();
    if (!p) return true;
    if (p.type === 'num' || p.type === 'str' || p.type === 'tpl' || p.type === 'regex')
      return false;
    if (p.type === 'ident') return REGEX_AFTER_KEYWORD.has(p.value);
    return !(p.value === ')' || p.value === ']' || p.value === '}');
  };
  const readTemplate = () => {
    // at a ` or a } closing a ${ ... }: read to the next ${ or closing `
    while (i < src.length) {
      const c = src[i];
      if (c === '\\') {
        i += 2;
        continue;
      }
      if (c === '\n') line++;
      if (c === '`') {
        i++;
        return 'end';
      }
      if (c === '$' && src[i + 1] === '{') {
        i += 2;
        braceStack.push('tpl');
        return 'expr';
      }
      i++;
    }
    throw new SyntaxError(`unterminated template literal (line ${line})`);
  };
  while (i < src.length) {
    const c = src[i];
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new SyntaxError(`unterminated comment (line ${line})`);
      line += (src.slice(i, end).match(/\n/g) || []).length;
      i = end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let v = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') {
          v += src[j + 1];
          j += 2;
          continue;
        }
        if (src[j] === '\n') throw new SyntaxError(`unterminated string (line ${line})`);
        v += src[j++];
      }
      toks.push({ type: 'str', value: v, line });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      i++;
      readTemplate();
      toks.push({ type: 'tpl', value: '`', line });
      continue;
    }
    if (c === '}' && braceStack.length && braceStack[braceStack.length - 1] === 'tpl') {
      braceStack.pop();
      i++;
      readTemplate();
      toks.push({ type: 'tpl', value: '`', line });
      continue;
    }
    if (c === '/' && regexAllowed()) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length) {
        const d = src[j];
        if (d === '\\') {
          j += 2;
          continue;
        }
        if (d === '\n') throw new SyntaxError(`unterminated regex (line ${line})`);
        if (d === '[') inClass = true;
        else if (d === ']') inClass = false;
        else if (d === '/' && !inClass) break;
        j++;
      }
      j++;
      while (j < src.length && /[a-z]/i.test(src[j])) j++;
      toks.push({ type: 'regex', value: src.slice(i, j), line });
      i = j;
      continue;
    }
    const num =
      /^(?:0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)n?/.exec(
        src.slice(i, i + 64)
      );
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] || ''))) {
      toks.push({ type: 'num', value: num[0], line });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*/.exec(src.slice(i, i + 256));
    if (id) {
      toks.push({ type: 'ident', value: id[0], line });
      i += id[0].length;
      continue;
    }
    if (c === '#') {
      const m = /^#[A-Za-z_$][\w$]*/.exec(src.slice(i, i + 256));
      if (m) {
        toks.push({ type: 'private', value: m[0], line });
        i += m[0].length;
        continue;
      }
    }
    let p = PUNCTS.find((q) => src.startsWith(q, i));
    // `a ?.5 : b` is a conditional, not optional chaining.
    if (p === '?.' && /[0-9]/.test(src[i + 2] || '')) p = undefined;
    p = p || c;
    if (p === '{') braceStack.push('{');
    if (p === '}') braceStack.pop();
    toks.push({ type: 'punct', value: p, line });
    i += p.length;
  }
  return toks;
}

// Problems of one file, and the relative modules it imports.
export function checkSource(src, file) {
  const problems = [];
  const imports = [];
  let toks;
  try {
    toks = tokenize(src);
  } catch (e) {
    return { problems: [`${file}: ${e.message}`], imports };
  }
  let depth = 0; // {} nesting: 0 is the module's top level
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k];
    const prev = toks[k - 1];
    const next = toks[k + 1];
    const at = `${file}:${t.line}`;
    if (t.type === 'punct') {
      if (t.value === '{') depth++;
      if (t.value === '}') depth--;
      if (FORBIDDEN_PUNCT[t.value])
        problems.push(
          `${at}: ${FORBIDDEN_PUNCT[t.value]} is not used in k6 scripts here (k6 v0.45 compatibility)`
        );
      continue;
    }
    if (t.type === 'private') {
      problems.push(`${at}: private class member ${t.value} (k6 v0.45 compatibility)`);
      continue;
    }
    if (t.type === 'num' && t.value.includes('_')) {
      problems.push(`${at}: numeric separator in ${t.value} (k6 v0.45 compatibility)`);
      continue;
    }
    if (t.type !== 'ident') continue;
    const isProperty = prev && prev.type === 'punct' && (prev.value === '.' || prev.value === '?.');
    const isKey =
      next &&
      next.type === 'punct' &&
      next.value === ':' &&
      prev &&
      prev.type === 'punct' &&
      (prev.value === '{' || prev.value === ',');
    if (isProperty) continue;
    if (t.value === 'await' && depth === 0)
      problems.push(`${at}: top-level await (k6 v0.45 compatibility)`);
    if (t.value === 'import') {
      if (next && next.type === 'punct' && next.value === '(') {
        problems.push(`${at}: dynamic import() (k6 v0.45 compatibility)`);
        continue;
      }
      if (next && next.type === 'punct' && next.value === '.') {
        problems.push(`${at}: import.meta (k6 v0.45 compatibility)`);
        continue;
      }
    }
    if ((t.value === 'import' || t.value === 'export') && depth === 0) {
      // The module specifier: the first string after `from`, or `import 'x'`.
      let j = k + 1;
      if (t.value === 'import' && toks[j] && toks[j].type === 'str') {
        imports.push({ spec: toks[j].value, line: toks[j].line });
        continue;
      }
      while (
        j < toks.length &&
        !(toks[j].type === 'punct' && toks[j].value === ';') &&
        !(toks[j].type === 'ident' && toks[j].value === 'from')
      )
        j++;
      if (toks[j] && toks[j].value === 'from' && toks[j + 1] && toks[j + 1].type === 'str')
        imports.push({ spec: toks[j + 1].value, line: toks[j + 1].line });
      continue;
    }
    if (FORBIDDEN_GLOBALS.has(t.value) && !isKey) {
      // A local declaration of the same name would also be flagged: keep such names out.
      problems.push(`${at}: ${t.value} is not a k6 v0.45 global`);
    }
  }
  if (depth !== 0) problems.push(`${file}: unbalanced braces`);
  for (const im of imports) {
    if (K6_MODULES.includes(im.spec)) continue;
    if (/^\.{1,2}\//.test(im.spec) && im.spec.endsWith('.js')) continue;
    problems.push(
      `${file}:${im.line}: import "${im.spec}" is not one of ${K6_MODULES.join(', ')} or a relative .js module`
    );
  }
  return {
    problems,
    imports: imports.filter((im) => /^\.{1,2}\//.test(im.spec)).map((im) => im.spec),
  };
}

// Checks a script and, transitively, its relative imports.
export function checkScript(path) {
  const seen = new Set();
  const problems = [];
  const visit = (p) => {
    if (seen.has(p)) return;
    seen.add(p);
    let src;
    try {
      src = readFileSync(p, 'utf8');
    } catch (e) {
      problems.push(`${p}: cannot read (${e.code || e.message})`);
      return;
    }
    const r = checkSource(src, p);
    problems.push(...r.problems);
    for (const spec of r.imports) visit(resolvePath(dirname(p), spec));
  };
  visit(path);
  return { problems, files: [...seen] };
}
