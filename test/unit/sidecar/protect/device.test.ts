import { beforeAll, describe, expect, it } from "vitest";
import { componentValue, deviceChanges, loadUserAgentParser, parseUserAgent, rawDevice, type RawDevice } from "../../../../sidecar/protect/device.ts";

const chrome = (v: string, os = "Macintosh; Intel Mac OS X 10_15_7") => `Mozilla/5.0 (${os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v} Safari/537.36`;
const firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:141.0) Gecko/20100101 Firefox/141.0";
const device = (over: Partial<RawDevice> = {}): RawDevice => ({
  userAgent: chrome("140.0.7339.81"),
  platform: '"macOS"',
  acceptLanguage: "en-GB,en;q=0.9",
  clientCert: "",
  ja4: "",
  ...over,
});
beforeAll(loadUserAgentParser);

const ALL = ["AcceptLanguage", "Browser", "ClientCertificate", "JA4", "OperatingSystem", "Platform"] as const;

describe("the device fingerprint's components", () => {
  it("reads browser family and major version and the OS from the User-Agent (bowser)", () => {
    expect(parseUserAgent(chrome("140.0.7339.81"))).toEqual({ browser: "Chrome 140", os: "macOS" });
    expect(parseUserAgent(firefox)).toEqual({ browser: "Firefox 141", os: "Windows" });
    expect(parseUserAgent("curl/8.5.0")).toEqual({ browser: "curl 8", os: "" });
    expect(parseUserAgent("")).toEqual({ browser: "", os: "" });
    expect(parseUserAgent("\u0000garbage")).toEqual({ browser: "", os: "" });
  });

  it("normalises Sec-CH-UA-Platform and Accept-Language", () => {
    expect(componentValue("Platform", device())).toBe("macOS");
    expect(componentValue("AcceptLanguage", device())).toBe("en-gb");
  });

  it("takes the client certificate and JA4 only from a trusted peer, hashing a certificate that is not a hash", () => {
    const headers = { "user-agent": "x/1", "x-client-cert": "-----BEGIN CERTIFICATE-----…", "x-ja4": "t13d1516h2_8daaf6152771_e5627efa2ab1" };
    const trusted = rawDevice(headers, { certHeader: "x-client-cert", ja4Header: "x-ja4" });
    expect(trusted.clientCert).toMatch(/^[0-9a-f]{64}$/);
    expect(trusted.ja4).toBe("t13d1516h2_8daaf6152771_e5627efa2ab1");
    expect(rawDevice(headers, undefined)).toMatchObject({ clientCert: "", ja4: "" });
    expect(rawDevice({ ...headers, "x-ja4": "not a ja4!" }, { certHeader: "x-client-cert", ja4Header: "x-ja4" }).ja4).toBe("");
  });
});

describe("deviceChanges", () => {
  it("tolerates a browser's minor-version update", () => {
    expect(deviceChanges(device(), device({ userAgent: chrome("140.0.7400.12") }), ALL)).toEqual([]);
  });

  it.each([
    ["another browser family", { userAgent: firefox }, ["Browser", "OperatingSystem"]],
    ["a major browser update", { userAgent: chrome("141.0.1.1") }, ["Browser"]],
    ["another OS", { userAgent: chrome("140.0.7339.81", "Windows NT 10.0; Win64; x64") }, ["OperatingSystem"]],
    ["another platform hint", { platform: '"Windows"' }, ["Platform"]],
    ["another first language", { acceptLanguage: "de-DE,de;q=0.9" }, ["AcceptLanguage"]],
    ["another client certificate", { clientCert: "b".repeat(64) }, ["ClientCertificate"]],
  ])("reports %s as the components that changed", (_name, over, components) => {
    expect(deviceChanges(device(), device(over), ALL).map((c) => c.component)).toEqual(components);
  });

  it("compares only the configured components and says what each was and is", () => {
    expect(deviceChanges(device(), device({ acceptLanguage: "de" }), ["Browser"])).toEqual([]);
    expect(deviceChanges(device(), device({ userAgent: firefox }), ["Browser"])).toEqual([
      { component: "Browser", bound: "Chrome 140", observed: "Firefox 141" },
    ]);
  });
});
