import { X509Certificate, createPrivateKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateCa, generateWebhookCerts, issueServingCert, needsRotation } from "../../../../operator/webhook/certs.ts";

const DAY = 86_400_000;
const now = new Date("2026-11-01T12:00:00Z");

describe("webhook certificates", async () => {
  const { ca, serving } = await generateWebhookCerts({ service: "vigil-webhook", namespace: "vigil-system", now });
  const caCert = new X509Certificate(ca.certPem);
  const leaf = new X509Certificate(serving.certPem);

  it("makes a CA that is a CA, and a leaf it signed that is not", () => {
    expect(caCert.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.checkIssued(caCert)).toBe(true);
  });

  it("uses ECDSA P-256 keys, exported as PKCS#8 PEM that matches the certificates", () => {
    expect(caCert.publicKey.asymmetricKeyType).toBe("ec");
    expect(caCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(serving.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(leaf.checkPrivateKey(createPrivateKey(serving.keyPem))).toBe(true);
    expect(caCert.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
  });

  it("names the Service the API server calls, and 127.0.0.1 for local runs", () => {
    expect(leaf.checkHost("vigil-webhook.vigil-system.svc")).toBe("vigil-webhook.vigil-system.svc");
    expect(leaf.checkHost("vigil-webhook.vigil-system.svc.cluster.local")).toBeDefined();
    expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(leaf.checkHost("other.vigil-system.svc")).toBeUndefined();
    expect(leaf.subjectAltName).toContain("DNS:vigil-webhook.vigil-system.svc");
  });

  it("is for server authentication only", () => {
    expect(leaf.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
  });

  it("is valid for about a year (CA) and 90 days (leaf), from a few minutes before now", () => {
    expect(new Date(caCert.validTo).getTime() - now.getTime()).toBeCloseTo(365 * DAY, -5);
    expect(new Date(leaf.validTo).getTime() - now.getTime()).toBeCloseTo(90 * DAY, -5);
    const skew = now.getTime() - new Date(leaf.validFrom).getTime();
    expect(skew).toBeGreaterThan(0);
    expect(skew).toBeLessThanOrEqual(10 * 60_000);
  });

  it("uses a fresh random serial for every certificate", async () => {
    const again = await issueServingCert(ca, { service: "vigil-webhook", namespace: "vigil-system", now });
    expect(new X509Certificate(again.certPem).serialNumber).not.toBe(leaf.serialNumber);
    expect(leaf.serialNumber).toMatch(/^[0-9A-F]{32}$/);
  });

  it("never issues a leaf that outlives its CA", async () => {
    const shortCa = await generateCa({ now, validityDays: 10 });
    const l = await issueServingCert(shortCa, { service: "s", namespace: "n", now });
    expect(l.notAfter.getTime()).toBeLessThanOrEqual(shortCa.notAfter.getTime());
  });

  it("adds extra names and IPs, ignoring invalid IPs", async () => {
    const l = new X509Certificate(
      (await issueServingCert(ca, { service: "s", namespace: "n", now, extraDnsNames: ["webhook.local"], extraIps: ["::1", "not-an-ip"] })).certPem,
    );
    expect(l.checkHost("webhook.local")).toBe("webhook.local");
    expect(l.checkIP("::1")).toBeDefined();
  });
});

describe("needsRotation", async () => {
  const { serving } = await generateWebhookCerts({ service: "s", namespace: "n", now });

  it("is false while more than 30 days are left", () => {
    expect(needsRotation(serving.certPem, now)).toBe(false);
    expect(needsRotation(serving.certPem, new Date(now.getTime() + 59 * DAY))).toBe(false);
  });

  it("is true with less than 30 days left, and after expiry", () => {
    expect(needsRotation(serving.certPem, new Date(now.getTime() + 61 * DAY))).toBe(true);
    expect(needsRotation(serving.certPem, new Date(now.getTime() + 100 * DAY))).toBe(true);
  });

  it("honours a custom threshold", () => {
    expect(needsRotation(serving.certPem, new Date(now.getTime() + 61 * DAY), 7)).toBe(false);
  });

  it("is true for a certificate that is not valid yet", () => {
    expect(needsRotation(serving.certPem, new Date(now.getTime() - DAY))).toBe(true);
  });

  it.each(["", "garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])(
    "is true (replace it) for an unparseable certificate %j",
    (pem) => {
      expect(needsRotation(pem, now)).toBe(true);
    },
  );
});
