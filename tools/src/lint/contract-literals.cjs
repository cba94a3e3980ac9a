// ESLint rule `visp/contract-literals`: what libs/contracts defines is imported from there, never typed again
// (STYLE.md 4, issue 22 §2). Outside libs/contracts it reports
//   - a string naming a `visp.*` label: every label name is `LABEL` of @visp/contracts;
//   - an array literal holding the same strings as a list that libs/contracts exports (`ACTIVE_SESSION_STATES`,
//     `PROGRESS_STEPS`, `SessionStateSchema`'s values, …), in any order: import the list instead.
// The lists are read from libs/contracts' source when the rule loads, so they are written once, there.
// CommonJS, because eslint.config.mjs loads it with plain Node and its spec with Jest.
const { readdirSync, readFileSync } = require('node:fs');
const path = require('node:path');
const { parse } = require('@typescript-eslint/parser');

const CONTRACTS = path.resolve(__dirname, '../../../libs/contracts/src');

/**
 * `visp.` followed by one of these is not a label: host names under the names reserved for examples and local
 * use (RFC 2606, RFC 6761: `visp.example.org`, `visp.localhost`, `visp.test`) and the files `visp.env` (the
 * deployment's settings) and `visp.js` (the operator tool's bundle).
 */
const NOT_LABELS = new Set(['example', 'localhost', 'test', 'env', 'js']);
/** A dotted `visp.<segment>…` name where it starts (not `*.visp.example` or `evilvisp.x`); group 1 is its first segment. */
const VISP_NAME = /(?<![\w.*-])visp\.([a-z][a-z0-9-]*)(?:\.[a-z][a-z0-9-]*)*/g;

/** The label name a string mentions, if any. */
function labelIn(text) {
  for (const match of text.matchAll(VISP_NAME)) if (!NOT_LABELS.has(match[1])) return match[0];
  return undefined;
}

/** The strings of an array literal made of string literals only, else undefined. */
function stringsOf(node) {
  if (!node || node.type !== 'ArrayExpression' || node.elements.length === 0) return undefined;
  const values = [];
  for (const element of node.elements) {
    if (!element || element.type !== 'Literal' || typeof element.value !== 'string') return undefined;
    values.push(element.value);
  }
  return values;
}

const unwrap = (node) => (node && (node.type === 'TSAsExpression' || node.type === 'TSSatisfiesExpression') ? unwrap(node.expression) : node);
const setKey = (values) => JSON.stringify([...new Set(values)].sort());

/**
 * Every list libs/contracts exports by name, by its members: `export const X = [...]` (with `as const` or a type)
 * and `export const XSchema = z.enum([...])`. Lists of one string say nothing and are left out.
 */
function contractLists(dir = CONTRACTS) {
  const lists = new Map();
  const files = readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'));
  for (const file of files) {
    const ast = parse(readFileSync(path.join(dir, file), 'utf8'), { ecmaVersion: 'latest', sourceType: 'module' });
    for (const statement of ast.body) {
      if (statement.type !== 'ExportNamedDeclaration' || statement.declaration?.type !== 'VariableDeclaration') continue;
      for (const declarator of statement.declaration.declarations) {
        const init = unwrap(declarator.init);
        const isEnum = init?.type === 'CallExpression' && init.callee.type === 'MemberExpression' && init.callee.property.name === 'enum';
        const values = stringsOf(isEnum ? init.arguments[0] : init);
        if (values && new Set(values).size > 1 && declarator.id.type === 'Identifier') {
          const key = setKey(values);
          lists.set(key, [...(lists.get(key) ?? []), declarator.id.name]);
        }
      }
    }
  }
  return lists;
}

let cached;

/** @type {import('eslint').Rule.RuleModule} */
module.exports = {
  meta: {
    type: 'problem',
    docs: { description: 'Label names and the lists libs/contracts defines are imported from @visp/contracts, not typed again.' },
    schema: [],
    messages: {
      label: "'{{name}}' is a label name: use LABEL from @visp/contracts.",
      list: 'This list repeats {{names}} of @visp/contracts: import it instead.',
    },
  },
  create(context) {
    cached ??= contractLists();
    const lists = cached;
    const checkText = (node, text) => {
      const name = labelIn(text);
      if (name) context.report({ node, messageId: 'label', data: { name } });
    };
    return {
      Literal(node) {
        if (typeof node.value === 'string') checkText(node, node.value);
      },
      TemplateElement(node) {
        checkText(node, node.value.cooked ?? node.value.raw);
      },
      ArrayExpression(node) {
        const values = stringsOf(node);
        const names = values && lists.get(setKey(values));
        if (names && values.length > 1) context.report({ node, messageId: 'list', data: { names: names.join(' / ') } });
      },
    };
  },
};
