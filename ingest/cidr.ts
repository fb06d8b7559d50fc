import { BlockList, isIP } from 'node:net';
import { InputError } from '../scheduler/errors.ts';

/** A list of CIDRs (`10.0.0.0/8`, `2001:db8::/32`, or a single address) to test addresses against. */
export function cidrList(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/') as [string, string | undefined];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (!isIP(address)) throw new InputError(`'${cidr}' is not an address or CIDR`);
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

/** Whether an address (IPv4, IPv6, or IPv4-mapped IPv6 as Node reports it) is in the list. */
export function allowed(list: BlockList, address: string | null): boolean {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  return list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
}

/** Checks CIDRs given by a user, with what to change. */
export function validateCidrs(cidrs: string[]): void {
  cidrList(cidrs);
}
