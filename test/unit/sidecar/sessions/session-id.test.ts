import { describe, expect, it } from "vitest";
import { isSessionId, newSessionId } from "../../../../sidecar/sessions/session-id.ts";

describe("session IDs", () => {
  it("are s_ + 22 base64url characters, without collisions over 10^5 draws", () => {
    // One expect over all draws (10^5 expect calls took seconds on a loaded machine and timed the test out).
    const seen = new Set<string>();
    const malformed: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const id = newSessionId();
      if (!/^s_[A-Za-z0-9_-]{22}$/.test(id)) malformed.push(id);
      seen.add(id);
    }
    expect(malformed).toEqual([]);
    expect(seen.size).toBe(100_000);
  });

  it("carry 128 random bits", () => {
    const id = newSessionId();
    expect(Buffer.from(id.slice(2), "base64url")).toHaveLength(16);
    expect(isSessionId(id)).toBe(true);
  });

  it("use the whole alphabet (every character appears across many IDs)", () => {
    const chars = new Set<string>();
    for (let i = 0; i < 2000; i++) for (const c of newSessionId().slice(2, 23)) chars.add(c);
    expect(chars.size).toBe(64);
  });

  it.each([
    ["no prefix", "AAAAAAAAAAAAAAAAAAAAAA"],
    ["wrong prefix", "x_AAAAAAAAAAAAAAAAAAAAAA"],
    ["too short", "s_AAAAAAAAAAAAAAAAAAAAA"],
    ["too long", "s_AAAAAAAAAAAAAAAAAAAAAAA"],
    ["non-canonical last character", "s_AAAAAAAAAAAAAAAAAAAAAB"],
    ["a star", "s_AAAAAAAAAAAAAAAAAAAA*A"],
    ["CR LF", "s_AAAAAAAAAAAAAAAAAAA\r\nA"],
    ["a brace", "s_{AAAAAAAAAAAAAAAAAAAAA"],
    ["non-ASCII", "s_AAAAAAAAAAAAAAAAAAAAéA"],
    ["10 KB", `s_${"A".repeat(10_240)}`],
    ["not a string", 42],
  ])("refuse %s", (_name, value) => {
    expect(isSessionId(value)).toBe(false);
  });
});
