/**
 * Scripted agent runs for the fake server: the same sequence of actions rendered as the text protocol
 * (for models without tool calling) or as native tool calls. Used by unit and integration tests alike.
 */
import type { ScriptedReply } from './script';

export interface Action {
  tool: string;
  args: Record<string, string>;
  /** Prose the model writes before its action (the text protocol must tolerate it). */
  prose?: string;
}

/** Writes add.js with a bug and its test, sees the test fail, fixes the bug, sees it pass, completes. */
export function addFunctionScenario(): Action[] {
  return [
    { tool: 'report_progress', args: { message: 'Plan: 1. package.json with a test script 2. src/add.js 3. tests 4. run them' } },
    { tool: 'write_file', args: { path: 'package.json', content: '{\n  "name": "add",\n  "private": true,\n  "scripts": { "test": "node --test tests/" }\n}\n' } },
    { tool: 'write_file', prose: 'Now the function.', args: { path: 'src/add.js', content: "'use strict';\n// Adds two numbers.\nmodule.exports = function add(a, b) {\n  return a - b;\n};\n" } },
    {
      tool: 'write_file',
      args: {
        path: 'tests/add.test.js',
        content: "const test = require('node:test');\nconst assert = require('node:assert');\nconst add = require('../src/add.js');\n\ntest('adds', () => {\n  assert.strictEqual(add(2, 3), 5);\n});\n\ntest('adds negatives', () => {\n  assert.strictEqual(add(-1, -1), -2);\n});\n",
      },
    },
    { tool: 'run_tests', args: {}, prose: 'Let me run the tests.' },
    { tool: 'replace_in_file', prose: 'The test shows add subtracts. Fixing it:', args: { path: 'src/add.js', search: 'return a - b;', replace: 'return a + b;' } },
    { tool: 'run_tests', args: {} },
    { tool: 'complete', args: { result: 'Added add(a, b) in src/add.js with two tests in tests/add.test.js; fixed a sign bug the tests found. All tests pass.' } },
  ];
}

export function asText(a: Action): ScriptedReply {
  const params = Object.entries(a.args)
    .map(([k, v]) => (v.includes('\n') ? `<${k}>\n${v}</${k}>` : `<${k}>${v}</${k}>`))
    .join('\n');
  return { content: `${a.prose ? `${a.prose}\n\n` : ''}<${a.tool}>\n${params}\n</${a.tool}>` };
}

export function asToolCall(a: Action): ScriptedReply {
  return { content: a.prose ?? '', toolCalls: [{ name: a.tool, arguments: a.args }] };
}
