/**
 * The front-proxy (request header) authentication settings the API server publishes in ConfigMap
 * `kube-system/extension-apiserver-authentication` (pure parse). Only the `requestheader-*` keys matter here: this
 * server accepts requests from the aggregator only (client certificates of users and bearer tokens are not
 * accepted directly; see docs/decisions/sessions-api-0002-delegated-auth.md).
 */
import { X509Certificate } from "node:crypto";

export const AUTH_CONFIGMAP = { namespace: "kube-system", name: "extension-apiserver-authentication" } as const;

export interface FrontProxyConfig {
  /** PEM bundle of the front-proxy client CA(s). */
  caPem: string;
  cas: X509Certificate[];
  /** Common names a front-proxy certificate may have; empty = any the CA signed. */
  allowedNames: string[];
  usernameHeaders: string[];
  uidHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

export type ParsedConfig = { ok: true; config: FrontProxyConfig } | { ok: false; problem: string };

function jsonList(data: Record<string, string>, key: string): string[] | undefined {
  const raw = data[key];
  if (raw === undefined || raw.trim() === "") return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) && parsed.every((v) => typeof v === "string") ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function pemCertificates(bundle: string): X509Certificate[] {
  const blocks = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const out: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      out.push(new X509Certificate(block));
    } catch {
      // an unparsable block is skipped; an empty result is reported below
    }
  }
  return out;
}

export function parseAuthConfigMap(data: Record<string, string> | undefined): ParsedConfig {
  if (data === undefined) return { ok: false, problem: `ConfigMap ${AUTH_CONFIGMAP.namespace}/${AUTH_CONFIGMAP.name} has no data` };
  const caPem = data["requestheader-client-ca-file"] ?? "";
  const cas = pemCertificates(caPem);
  if (cas.length === 0)
    return {
      ok: false,
      problem: "requestheader-client-ca-file is missing or holds no certificate: the API server runs without a front proxy (--requestheader-client-ca-file)",
    };
  const lists = {
    allowedNames: jsonList(data, "requestheader-allowed-names"),
    usernameHeaders: jsonList(data, "requestheader-username-headers"),
    uidHeaders: jsonList(data, "requestheader-uid-headers"),
    groupHeaders: jsonList(data, "requestheader-group-headers"),
    extraHeaderPrefixes: jsonList(data, "requestheader-extra-headers-prefix"),
  };
  for (const [key, value] of Object.entries(lists)) if (value === undefined) return { ok: false, problem: `${key} is not a JSON list of strings` };
  const usernameHeaders = lists.usernameHeaders ?? [];
  if (usernameHeaders.length === 0) return { ok: false, problem: "requestheader-username-headers is empty" };
  return {
    ok: true,
    config: {
      caPem: cas.map((c) => c.toString()).join(""),
      cas,
      allowedNames: lists.allowedNames ?? [],
      usernameHeaders: usernameHeaders.map((h) => h.toLowerCase()),
      uidHeaders: (lists.uidHeaders ?? []).map((h) => h.toLowerCase()),
      groupHeaders: (lists.groupHeaders ?? []).map((h) => h.toLowerCase()),
      extraHeaderPrefixes: (lists.extraHeaderPrefixes ?? []).map((h) => h.toLowerCase()),
    },
  };
}
