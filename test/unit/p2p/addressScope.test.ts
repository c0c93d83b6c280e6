import { describe, expect, it } from "@jest/globals";
import { addressScope, dialableScopes, multiaddrIp } from "../../../p2p/addressScope.js";

describe("addressScope", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.20", "private"],
    ["100.64.0.1", "private"],
    ["169.254.10.10", "private"],
    ["fd12:3456::1", "private"],
    ["fe80::1", "private"],
    ["::ffff:192.168.0.1", "private"],
    ["8.8.8.8", "public"],
    ["172.32.0.1", "public"],
    ["100.128.0.1", "public"],
    ["2a00:1450:4001::1", "public"],
    ["0.0.0.0", "unroutable"],
    ["255.255.255.255", "unroutable"],
    ["224.0.0.251", "unroutable"],
    ["192.0.2.7", "unroutable"],
    ["::", "unroutable"],
    ["ff02::1", "unroutable"],
    ["2001:db8::1", "unroutable"],
    ["not-an-ip", "unroutable"],
    ["example.com", "unroutable"],
  ])("%s is %s", (ip, scope) => {
    expect(addressScope(ip)).toBe(scope);
  });
});

describe("dialableScopes", () => {
  it("a node on loopback dials loopback, private and public addresses", () => {
    expect([...dialableScopes("127.0.0.1")].sort()).toEqual(["loopback", "private", "public"]);
  });

  it("a node on a private address dials private and public ones, never its own machine's", () => {
    expect([...dialableScopes("192.168.1.5")].sort()).toEqual(["private", "public"]);
  });

  it("a node on a public address or 0.0.0.0 dials only public ones, unless told private peers are wanted", () => {
    for (const addr of ["0.0.0.0", "203.0.114.9"]) {
      expect([...dialableScopes(addr)]).toEqual(["public"]);
      expect([...dialableScopes(addr, false)]).toEqual(["public"]);
      expect([...dialableScopes(addr, true)].sort()).toEqual(["private", "public"]);
    }
  });
});

describe("multiaddrIp", () => {
  it("reads the IP of /ip4 and /ip6 addresses only", () => {
    expect(multiaddrIp("/ip4/10.0.0.1/tcp/19840")).toBe("10.0.0.1");
    expect(multiaddrIp("/ip6/::1/tcp/19840")).toBe("::1");
    expect(multiaddrIp("/dns4/example.com/tcp/19840")).toBeUndefined();
    expect(multiaddrIp("/p2p/12D3KooW")).toBeUndefined();
  });
});
