import { BlockList, isIP } from 'node:net';

/**
 * Addresses a tool may never reach, whatever name led there: loopback,
 * private, link-local, CGNAT, cloud metadata, unspecified, multicast,
 * documentation/benchmark ranges, and IPv6 forms that embed IPv4
 * (mapped, NAT64, 6to4, Teredo) so no IPv4 rule can be dodged.
 */
const BLOCKED_V4: Array<[string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const BLOCKED_V6: Array<[string, number]> = [
  ['::', 128],
  ['::1', 128],
  ['::ffff:0:0', 96],
  ['::', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 32],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
];

export interface AddressPolicyOptions {
  /**
   * Addresses or CIDRs that are allowed although private (tests only: a
   * local test server on 127.0.0.1). Never set this from user input.
   */
  allowedPrivate?: string[];
}

export class AddressPolicy {
  // One list per family: BlockList matches IPv4 addresses against IPv6 rules such as ::ffff:0:0/96.
  private readonly blocked4 = new BlockList();
  private readonly blocked6 = new BlockList();
  // Per family, so an IPv4 exception never matches its IPv4-mapped IPv6 form.
  private readonly allowed4 = new BlockList();
  private readonly allowed6 = new BlockList();

  constructor(options: AddressPolicyOptions = {}) {
    for (const [net, prefix] of BLOCKED_V4) this.blocked4.addSubnet(net, prefix, 'ipv4');
    for (const [net, prefix] of BLOCKED_V6) this.blocked6.addSubnet(net, prefix, 'ipv6');
    for (const entry of options.allowedPrivate ?? []) {
      const [address, prefix] = entry.split('/');
      const family = isIP(address!) === 6 ? 'ipv6' : 'ipv4';
      const list = family === 'ipv6' ? this.allowed6 : this.allowed4;
      if (prefix === undefined) list.addAddress(address!, family);
      else list.addSubnet(address!, Number(prefix), family);
    }
  }

  /** Why `address` may not be contacted, or undefined when it may. */
  refusal(address: string): string | undefined {
    const version = isIP(address);
    if (version === 0) return 'not an IP address';
    const family = version === 6 ? 'ipv6' : 'ipv4';
    const allowed = family === 'ipv6' ? this.allowed6 : this.allowed4;
    if (allowed.check(address, family)) return undefined;
    const blocked = family === 'ipv6' ? this.blocked6 : this.blocked4;
    if (blocked.check(address, family)) return 'a loopback, private, link-local or otherwise reserved address';
    return undefined;
  }
}
