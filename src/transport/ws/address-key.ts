/**
 * The key a peer's connections are counted under for maxConnectionsPerAddress. One key per
 * IPv4 address, but one per IPv6 /64: a single host (a home router, a cloud VM) is handed a
 * whole /64 and can bind any of its 2^64 addresses, so a cap per exact IPv6 address caps
 * nothing (RFC 6177 §2; what rate limiters such as nginx and Cloudflare key on). An
 * IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack listener reports for an
 * IPv4 peer) is the IPv4 address, so one peer is not counted under two keys. The header
 * X-Forwarded-For is never read: anyone can write it.
 */
import { isIPv4, isIPv6 } from 'node:net';

const MAPPED_IPV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** Expands an IPv6 address (without zone) to its 8 groups; undefined if it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const piece of part.split(':')) {
      // An embedded IPv4 tail (`::1.2.3.4`, `64:ff9b::1.2.3.4`) is two groups.
      if (isIPv4(piece)) {
        const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
        groups.push((a << 8) | b, (c << 8) | d);
      } else groups.push(parseInt(piece, 16));
    }
    return groups;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const zeros = 8 - head.length - tail.length;
  if (zeros < 0 || (halves.length === 1 && zeros !== 0)) return undefined;
  return [...head, ...new Array<number>(zeros).fill(0), ...tail];
}

/** `remoteAddress` as counted per address: IPv4 as is, IPv6 as its /64 prefix. */
export function addressKey(remoteAddress: string | undefined): string {
  if (!remoteAddress) return 'unknown';
  const mapped = MAPPED_IPV4.exec(remoteAddress);
  if (mapped) return mapped[1]!;
  const bare = remoteAddress.split('%')[0]!; // a zone (fe80::1%eth0) names our interface, not the peer
  if (!isIPv6(bare)) return remoteAddress;
  const groups = ipv6Groups(bare);
  if (!groups) return remoteAddress;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}
