import assert from 'node:assert/strict';
import { AddressPolicy } from '../src/network/address-policy.js';
import { FetchGuard, FetchRefused } from '../src/network/fetch-guard.js';
import { effectiveGrant, hostAllowed, missingPermissions, normalizePermissions } from '../src/permissions/permission-set.js';

describe('network policy', () => {
  const policy = new AddressPolicy();

  it('refuses every loopback, private, link-local, CGNAT, metadata, unspecified and IPv4-embedding address', () => {
    for (const address of [
      '127.0.0.1', '127.255.0.1', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1', '100.127.255.254',
      '0.0.0.0', '255.255.255.255', '224.0.0.1', '198.18.0.1', '::', '::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::127.0.0.1', '64:ff9b::7f00:1',
      'fe80::1', 'fc00::1', 'fd00:ec2::254', 'ff02::1', '2002:7f00:1::', '2001:0:4136:e378::1',
    ]) {
      assert.ok(policy.refusal(address), `${address} should be refused`);
    }
  });

  it('allows public addresses', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111']) assert.equal(policy.refusal(address), undefined, address);
  });

  it('lets tests allow one private address without opening its IPv4-mapped form', () => {
    const testing = new AddressPolicy({ allowedPrivate: ['127.0.0.1'] });
    assert.equal(testing.refusal('127.0.0.1'), undefined);
    assert.ok(testing.refusal('127.0.0.2'));
    assert.ok(testing.refusal('::ffff:127.0.0.1'));
  });

  it('matches wildcard host grants on subdomains only', () => {
    const grant = effectiveGrant(normalizePermissions({ networkHosts: ['*.example.com', 'api.other.org'] }), normalizePermissions({ networkHosts: ['*.example.com', 'api.other.org'] }));
    assert.ok(hostAllowed(grant, 'a.example.com'));
    assert.ok(hostAllowed(grant, 'deep.a.example.com'));
    assert.ok(!hostAllowed(grant, 'example.com'));
    assert.ok(!hostAllowed(grant, 'evilexample.com'));
    assert.ok(!hostAllowed(grant, 'example.com.evil.net'));
    assert.ok(hostAllowed(grant, 'api.other.org'));
    assert.ok(!hostAllowed(grant, 'x.api.other.org'));
  });

  it('counts a wildcard as covered only by an equal or wider wildcard', () => {
    const asked = normalizePermissions({ networkHosts: ['*.example.com', 'a.example.com'], secrets: ['A'] });
    assert.deepEqual(missingPermissions(asked, normalizePermissions({ networkHosts: ['a.example.com'] })), { networkHosts: ['*.example.com'], secrets: ['A'] });
    assert.deepEqual(missingPermissions(asked, normalizePermissions({ networkHosts: ['*.example.com'], secrets: ['A'] })), { networkHosts: [], secrets: [] });
  });

  it('refuses IP literals in any notation, userinfo and other schemes before any lookup', () => {
    let lookups = 0;
    const guard = new FetchGuard({ maxResponseBytes: 1000, maxRedirects: 1, resolver: async () => { lookups++; return []; } });
    const grant = effectiveGrant(normalizePermissions({ networkHosts: ['*'] }), normalizePermissions({ networkHosts: ['*'] }));
    for (const url of ['http://2130706433/', 'http://0x7f.1/', 'http://017700000001/', 'http://127.1/', 'http://[::ffff:7f00:1]/', 'http://[::1]/', 'http://u@host.example/', 'file:///etc/passwd', 'ftp://host.example/']) {
      assert.throws(() => guard.checkUrl(url, grant), (e: FetchRefused) => e.code === 'PERMISSION_DENIED', url);
    }
    assert.equal(lookups, 0);
  });
});
