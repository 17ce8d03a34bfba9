import { isIP } from "node:net";
import { ValidationError } from "./errors.js";

/** Which non-public targets a deployment lets webhooks reach. */
export interface TargetPolicy {
  allowLoopback: boolean;
  allowPrivate: boolean;
}

export type AddressClass = "public" | "loopback" | "private" | "link-local" | "reserved";

type Range = [base: number[], prefixBits: number, cls: Exclude<AddressClass, "public">];

const v4 = (text: string) => text.split(".").map(Number);

/** Everything that is not the public internet; the first match wins. */
const IPV4_RANGES: Range[] = [
  [v4("0.0.0.0"), 8, "reserved"],
  [v4("10.0.0.0"), 8, "private"],
  [v4("100.64.0.0"), 10, "private"],
  [v4("127.0.0.0"), 8, "loopback"],
  // Includes the instance metadata service (169.254.169.254).
  [v4("169.254.0.0"), 16, "link-local"],
  [v4("172.16.0.0"), 12, "private"],
  [v4("192.0.0.0"), 24, "reserved"],
  [v4("192.0.2.0"), 24, "reserved"],
  [v4("192.168.0.0"), 16, "private"],
  [v4("198.18.0.0"), 15, "reserved"],
  [v4("198.51.100.0"), 24, "reserved"],
  [v4("203.0.113.0"), 24, "reserved"],
  [v4("224.0.0.0"), 4, "reserved"],
  [v4("240.0.0.0"), 4, "reserved"],
];

const IPV6_RANGES: Range[] = [
  [[0xfc], 7, "private"],
  [[0xfe, 0x80], 10, "link-local"],
  // Site-local, deprecated but still routed inside some networks.
  [[0xfe, 0xc0], 10, "private"],
  [[0xff], 8, "reserved"],
  [[0x20, 0x01, 0x0d, 0xb8], 32, "reserved"],
  [[0x01, 0x00, 0, 0, 0, 0, 0, 0], 64, "reserved"],
];

function inRange(bytes: number[], [base, bits]: Range): boolean {
  for (let i = 0; i < bits; i += 8) {
    const take = Math.min(8, bits - i);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((bytes[i / 8] ?? 0) & mask) !== ((base[i / 8] ?? 0) & mask)) return false;
  }
  return true;
}

/** 16 bytes of an IPv6 address (with `::` and an embedded dotted quad), or undefined. */
export function ipv6Bytes(text: string): number[] | undefined {
  let address = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (isIP(address) !== 6) return undefined;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (quad) {
    const [a, b, c, d] = v4(quad[1]!);
    address = `${address.slice(0, -quad[1]!.length)}${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
  }
  const [head, tail] = address.split("::") as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(":").filter((g) => g !== "") : []);
  const left = groups(head);
  const right = groups(tail);
  const hextets = [...left, ...Array<string>(tail === undefined ? 0 : 8 - left.length - right.length).fill("0"), ...right];
  if (hextets.length !== 8) return undefined;
  return hextets.flatMap((h) => {
    const n = parseInt(h, 16);
    return [n >> 8, n & 0xff];
  });
}

/** Where an IP address points: the public internet or one of the places webhooks must not reach by default. */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address.replace(/^\[|\]$/g, "").replace(/%.*$/, ""));
  if (family === 4) {
    const bytes = v4(address);
    if (bytes.every((b) => b === 255)) return "reserved";
    return IPV4_RANGES.find((range) => inRange(bytes, range))?.[2] ?? "public";
  }
  const bytes = ipv6Bytes(address);
  if (!bytes) return "reserved";
  const isZero = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
  if (isZero(0, 15) && bytes[15] === 1) return "loopback";
  if (isZero(0, 16)) return "reserved";
  const embedded = (from: number) => classifyAddress(bytes.slice(from, from + 4).join("."));
  // IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach an IPv4 address.
  if (isZero(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return embedded(12);
  if (inRange(bytes, [[0, 0x64, 0xff, 0x9b], 96, "reserved"])) return embedded(12);
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return embedded(2);
  // IPv4-compatible (::a.b.c.d), deprecated.
  if (isZero(0, 12)) return "reserved";
  return IPV6_RANGES.find((range) => inRange(bytes, range))?.[2] ?? "public";
}

/** Why the policy refuses an address, or undefined when it may be reached. */
export function refusalOf(address: string, policy: TargetPolicy): string | undefined {
  const cls = classifyAddress(address);
  if (cls === "public") return undefined;
  if (cls === "loopback" && policy.allowLoopback) return undefined;
  if (cls === "private" && policy.allowPrivate) return undefined;
  const hint =
    cls === "loopback"
      ? " (allowed with MREG_WEBHOOK_ALLOW_LOOPBACK=true)"
      : cls === "private"
        ? " (allowed with MREG_WEBHOOK_ALLOW_PRIVATE=true)"
        : "";
  return `${address} is a ${cls} address${hint}`;
}

/** An http(s) URL with a host and without credentials: what an automation may post to. */
export function parseWebhookUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new ValidationError("url is not a valid URL", { cause: error });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ValidationError("url must be http or https");
  if (url.username !== "" || url.password !== "") {
    throw new ValidationError("url must not carry credentials; use the automation's secret to authenticate deliveries");
  }
  if (url.hostname === "") throw new ValidationError("url has no host");
  return url;
}

/** The URL's host without IPv6 brackets; an IP literal when `isIP` says so. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "");
}
