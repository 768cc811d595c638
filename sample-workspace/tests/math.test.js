'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { multiply } = require('../src/math');

test('multiply multiplies two numbers', () => {
  assert.strictEqual(multiply(3, 4), 12);
  assert.strictEqual(multiply(-2, 5), -10);
});
