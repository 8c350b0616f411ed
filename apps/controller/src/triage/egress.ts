import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Where a tenant's webhook may not point: the controller's own host, its private networks and
 * link-local addresses (cloud metadata services among them). Only an admin's hook may reach them.
 */
const INTERNAL = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  INTERNAL.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  INTERNAL.addSubnet(net, prefix, 'ipv6');

/** True for an address a tenant's hook may not reach (and for anything that is not an address). */
export function isInternalAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 0) return true;
  // An IPv4-mapped IPv6 address reaches the IPv4 host it names.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return INTERNAL.check(mapped[1], 'ipv4');
  return INTERNAL.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

export class EgressRefusedError extends Error {
  override name = 'EgressRefusedError';
  readonly code = 'EGRESS_REFUSED';
  constructor(host: string, address: string) {
    super(`${host} is ${address}, an internal address a tenant's hook may not reach`);
  }
}

/** Why a tenant may not name `url` as a webhook, when its host is an internal address or name. */
export function internalHostProblem(url: URL): string | undefined {
  const host = url.hostname.toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is this host`;
  if (isIP(host.replace(/^\[|\]$/g, '')) && isInternalAddress(host)) return `${host} is an internal address`;
  return undefined;
}

/**
 * A DNS lookup for http(s).request that refuses internal addresses. The connection uses what this
 * lookup returns, so a name that resolves elsewhere on a second lookup (DNS rebinding) cannot slip
 * an internal address past the check.
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const list = addresses as LookupAddress[];
    const internal = list.find((a) => isInternalAddress(a.address));
    if (internal) return callback(new EgressRefusedError(hostname, internal.address), '', 0);
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    callback(null, list[0].address, list[0].family);
  });
};
