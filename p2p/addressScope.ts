import { BlockList, isIP } from "node:net";

/**
 * Where an IP address lives, for deciding which addresses a peer tells of are worth dialling:
 * `loopback` (this machine), `private` (a LAN, link-local, carrier-grade NAT, IPv6 unique local),
 * `public`, or `unroutable` (unspecified, multicast, broadcast, documentation and reserved ranges).
 */
export type AddressScope = "loopback" | "private" | "public" | "unroutable";

function blockList(subnets: ReadonlyArray<readonly [string, number, "ipv4" | "ipv6"]>): BlockList {
  const list = new BlockList();
  for (const [net, prefix, family] of subnets) list.addSubnet(net, prefix, family);
  return list;
}

const LOOPBACK = blockList([
  ["127.0.0.0", 8, "ipv4"],
  ["::1", 128, "ipv6"],
]);

const PRIVATE = blockList([
  ["10.0.0.0", 8, "ipv4"],
  ["172.16.0.0", 12, "ipv4"],
  ["192.168.0.0", 16, "ipv4"],
  ["100.64.0.0", 10, "ipv4"], // carrier-grade NAT
  ["169.254.0.0", 16, "ipv4"], // link-local
  ["fc00::", 7, "ipv6"], // unique local
  ["fe80::", 10, "ipv6"], // link-local
]);

const UNROUTABLE = blockList([
  ["0.0.0.0", 8, "ipv4"],
  ["192.0.0.0", 24, "ipv4"],
  ["192.0.2.0", 24, "ipv4"], // documentation
  ["198.18.0.0", 15, "ipv4"], // benchmarking
  ["198.51.100.0", 24, "ipv4"], // documentation
  ["203.0.113.0", 24, "ipv4"], // documentation
  ["224.0.0.0", 3, "ipv4"], // multicast, reserved, broadcast
  ["::", 128, "ipv6"],
  ["ff00::", 8, "ipv6"], // multicast
  ["2001:db8::", 32, "ipv6"], // documentation
]);

/** The scope of a textual IPv4 or IPv6 address (BlockList reads IPv4-mapped IPv6 as its IPv4); `unroutable` for anything else. */
export function addressScope(ip: string): AddressScope {
  const family = isIP(ip);
  if (family === 0) return "unroutable";
  const type = family === 4 ? "ipv4" : "ipv6";
  if (LOOPBACK.check(ip, type)) return "loopback";
  if (UNROUTABLE.check(ip, type)) return "unroutable";
  if (PRIVATE.check(ip, type)) return "private";
  return "public";
}

/**
 * The scopes a node dials when peers tell it of addresses. A node on loopback is a test or a
 * one-machine network and dials loopback too; a node on a private address dials private and
 * public ones. A node on a public or every address (0.0.0.0) dials only public addresses unless
 * `privatePeers` is set: otherwise any peer could make it probe its own machine and LAN.
 */
export function dialableScopes(listenAddr: string, privatePeers?: boolean): ReadonlySet<AddressScope> {
  const own = addressScope(listenAddr);
  if (own === "loopback") return new Set(["loopback", "private", "public"]);
  if (own === "private" || privatePeers === true) return new Set(["private", "public"]);
  return new Set(["public"]);
}

/** The IP of a `/ip4/...` or `/ip6/...` multiaddr string; undefined for any other. */
export function multiaddrIp(addr: string): string | undefined {
  const m = /^\/ip[46]\/([^/]+)/.exec(addr);
  return m?.[1];
}
