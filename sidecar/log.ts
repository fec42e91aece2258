import { pino, type Logger } from "pino";

/** The sidecar's one logger: JSON, structured fields first; credentials are redacted wherever they appear. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { component: "vigil-sidecar" },
    redact: {
      paths: ["authorization", "token", "*.authorization", "*.token", "headers.authorization", "headers.cookie", 'headers["proxy-authorization"]'],
      censor: "[REDACTED]",
    },
  });
}
