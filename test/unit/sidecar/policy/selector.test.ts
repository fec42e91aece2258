import { describe, expect, it } from "vitest";
import type { CompiledPolicy, CompiledSelector } from "../../../../operator/api/compiled-policy.ts";
import { selects } from "../../../../operator/api/label-selector.ts";
import { policiesFor } from "../../../../sidecar/policy/selector.ts";

type Expr = CompiledSelector["matchExpressions"][number];
const sel = (matchLabels: Record<string, string> = {}, matchExpressions: Expr[] = []): CompiledSelector => ({ matchLabels, matchExpressions });
const expr = (key: string, operator: Expr["operator"], values: string[] = []): Expr => ({ key, operator, values });
const labels = { app: "web", tier: "frontend", team: "shop" };

describe("label selector", () => {
  it.each([
    ["empty selector selects everything", sel(), true],
    ["matchLabels all equal", sel({ app: "web", tier: "frontend" }), true],
    ["matchLabels one differs", sel({ app: "web", tier: "backend" }), false],
    ["matchLabels key absent", sel({ env: "prod" }), false],
    ["In with value listed", sel({}, [expr("tier", "In", ["frontend", "edge"])]), true],
    ["In with value not listed", sel({}, [expr("tier", "In", ["backend"])]), false],
    ["In with key absent", sel({}, [expr("env", "In", ["prod"])]), false],
    ["NotIn with value listed", sel({}, [expr("tier", "NotIn", ["frontend"])]), false],
    ["NotIn with value not listed", sel({}, [expr("tier", "NotIn", ["backend"])]), true],
    ["NotIn with key absent", sel({}, [expr("env", "NotIn", ["prod"])]), true],
    ["Exists", sel({}, [expr("team", "Exists")]), true],
    ["Exists, absent", sel({}, [expr("env", "Exists")]), false],
    ["DoesNotExist", sel({}, [expr("env", "DoesNotExist")]), true],
    ["DoesNotExist, present", sel({}, [expr("app", "DoesNotExist")]), false],
    ["labels AND expressions", sel({ app: "web" }, [expr("tier", "In", ["backend"])]), false],
    ["unknown operator selects nothing", sel({}, [expr("app", "Matches" as Expr["operator"], ["web"])]), false],
    ["inherited property names are not labels", sel({ constructor: "x" }), false],
  ])("%s", (_name, selector, expected) => {
    expect(selects(selector, labels)).toBe(expected);
  });

  it("returns the policies of the workload's namespace that select it", () => {
    const p = (namespace: string, name: string, selector: CompiledSelector) => ({ namespace, name, selector }) as CompiledPolicy;
    const all = [p("shop", "web", sel({ app: "web" })), p("shop", "db", sel({ app: "db" })), p("other", "web", sel({ app: "web" })), p("shop", "all", sel())];
    expect(policiesFor(all, "shop", labels).map((x) => x.name)).toEqual(["web", "all"]);
  });
});
