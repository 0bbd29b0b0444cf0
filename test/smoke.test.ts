import assert from 'node:assert/strict';
describe('workspace', () => { it('runs on Node 24', () => { assert.match(process.version, /^v24\./); }); });
