import { createServer, type Server } from "node:http";
import type { LookupAddress } from "node:dns";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpWebhookSender, retryAfterMs } from "../../lambdas/adapters/http/webhook-sender.js";
import { ValidationError } from "../../lambdas/core/errors.js";
import { classifyAddress, parseWebhookUrl, refusalOf } from "../../lambdas/core/webhook-targets.js";

describe("classifyAddress", () => {
  it.each([
    ["8.8.8.8", "public"],
    ["1.1.1.1", "public"],
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.0.0.1", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["169.254.169.254", "link-local"],
    ["0.0.0.0", "reserved"],
    ["224.0.0.1", "reserved"],
    ["255.255.255.255", "reserved"],
    ["192.0.2.10", "reserved"],
    ["::1", "loopback"],
    ["::", "reserved"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["fd00:ec2::254", "private"],
    ["fc00::1", "private"],
    ["ff02::1", "reserved"],
    ["2001:db8::1", "reserved"],
    ["2606:4700:4700::1111", "public"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.1.2.3", "private"],
    ["::ffff:8.8.8.8", "public"],
    ["64:ff9b::a9fe:a9fe", "link-local"],
    ["2002:c0a8:0101::1", "private"],
    ["[::1]", "loopback"],
  ])("%s is %s", (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });
});

describe("refusalOf", () => {
  it("lets a deployment allow loopback and private targets, never link-local or reserved ones", () => {
    const open = { allowLoopback: true, allowPrivate: true };
    const closed = { allowLoopback: false, allowPrivate: false };
    expect(refusalOf("127.0.0.1", closed)).toMatch(/loopback.*MREG_WEBHOOK_ALLOW_LOOPBACK/);
    expect(refusalOf("10.0.0.1", closed)).toMatch(/private.*MREG_WEBHOOK_ALLOW_PRIVATE/);
    expect(refusalOf("127.0.0.1", open)).toBeUndefined();
    expect(refusalOf("10.0.0.1", open)).toBeUndefined();
    expect(refusalOf("169.254.169.254", open)).toMatch(/link-local/);
    expect(refusalOf("0.0.0.0", open)).toMatch(/reserved/);
    expect(refusalOf("93.184.216.34", closed)).toBeUndefined();
  });
});

describe("parseWebhookUrl", () => {
  it("takes http and https URLs with a host", () => {
    expect(parseWebhookUrl("https://hooks.example.com/x?y=1").hostname).toBe("hooks.example.com");
  });

  it.each(["not a url", "ftp://example.com/", "file:///etc/passwd", "https://user:pass@example.com/"])("refuses %s", (url) => {
    expect(() => parseWebhookUrl(url)).toThrow(ValidationError);
  });

  it("normalises numeric hosts, so a decimal or hex loopback is recognised", () => {
    expect(parseWebhookUrl("http://2130706433/").hostname).toBe("127.0.0.1");
    expect(parseWebhookUrl("http://0x7f.1/").hostname).toBe("127.0.0.1");
  });
});

const resolver =
  (table: Record<string, string[]>) =>
  async (hostname: string): Promise<LookupAddress[]> => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };

describe("HttpWebhookSender", () => {
  let server: Server;
  let port = 0;
  let hits = 0;
  let respond: (res: import("node:http").ServerResponse) => void = (res) => res.end("ok");

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      req.resume();
      req.on("end", () => respond(res));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const request = (url: string, timeoutMs = 2000) => ({ url, headers: { "content-type": "application/json" }, body: "{}", timeoutMs });

  it("checks a target at creation after resolving its name", async () => {
    const sender = new HttpWebhookSender(
      { allowLoopback: false, allowPrivate: false },
      resolver({ "hooks.example.com": ["93.184.216.34"], "sneaky.example.com": ["93.184.216.34", "10.0.0.5"] }),
    );
    await expect(sender.checkTarget("https://hooks.example.com/x")).resolves.toBeUndefined();
    await expect(sender.checkTarget("https://sneaky.example.com/x")).rejects.toThrow(/10\.0\.0\.5 is a private address/);
    await expect(sender.checkTarget("http://127.0.0.1:9/")).rejects.toThrow(/loopback/);
    await expect(sender.checkTarget("http://[::1]:9/")).rejects.toThrow(/loopback/);
    await expect(sender.checkTarget("https://nowhere.example.com/")).rejects.toThrow(/does not resolve/);
  });

  it("checks again at delivery, on the address it connects to: a name that now resolves to loopback is refused unsent", async () => {
    const sender = new HttpWebhookSender({ allowLoopback: false, allowPrivate: false }, resolver({ "rebound.example.com": ["127.0.0.1"] }));
    const before = hits;
    const response = await sender.send(request(`http://rebound.example.com:${port}/`));
    expect(response.error).toMatchObject({ kind: "refused", message: expect.stringContaining("loopback") });
    expect(response.statusCode).toBeUndefined();
    expect(hits).toBe(before);
    expect((await sender.send(request(`http://127.0.0.1:${port}/`))).error?.kind).toBe("refused");
    expect(hits).toBe(before);
  });

  it("posts to an allowed target through the checked lookup and reports status and latency", async () => {
    const sender = new HttpWebhookSender({ allowLoopback: true, allowPrivate: false }, resolver({ "receiver.test": ["127.0.0.1"] }));
    respond = (res) => res.writeHead(503, { "retry-after": "7" }).end("busy");
    const response = await sender.send(request(`http://receiver.test:${port}/hook`));
    expect(response).toMatchObject({ statusCode: 503, retryAfterMs: 7000 });
    expect(response.latencyMs).toBeGreaterThan(0);
    respond = (res) => res.end("ok");
  });

  it("reports a receiver that does not answer in time as a timeout", async () => {
    const sender = new HttpWebhookSender({ allowLoopback: true, allowPrivate: false });
    respond = () => undefined;
    const response = await sender.send(request(`http://127.0.0.1:${port}/slow`, 200));
    expect(response.error?.kind).toBe("timeout");
    expect(response.latencyMs).toBeGreaterThanOrEqual(190);
    respond = (res) => res.end("ok");
  });

  it("reports a refused connection as a network error", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const sender = new HttpWebhookSender({ allowLoopback: true, allowPrivate: false });
    const response = await sender.send(request(`http://127.0.0.1:${closedPort}/`));
    expect(response.error).toMatchObject({ kind: "network", message: expect.stringContaining("ECONNREFUSED") });
  });
});

describe("retryAfterMs", () => {
  it("reads seconds and HTTP dates", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(retryAfterMs("30", now)).toBe(30_000);
    expect(retryAfterMs("Wed, 01 Jan 2025 00:01:00 GMT", now)).toBe(60_000);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});
