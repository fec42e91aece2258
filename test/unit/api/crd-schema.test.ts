/**
 * The CRDs in crds/ are the source of truth; operator/api/v1alpha1/*.ts mirror them. This test reads the
 * TypeScript interfaces with the compiler API and walks them next to the OpenAPI schemas, so the two cannot drift:
 * same property names at every level, optional in TS ⇔ not required in the schema, string-literal unions ⇔ enums,
 * arrays ⇔ items, Record<string, string> ⇔ additionalProperties, and every schema default written in the TS docs.
 * It also pins the structural facts users rely on (bounded strings and lists, status subresource, kubectl names).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");
const apiDir = join(root, "operator/api/v1alpha1");

interface Schema {
  type?: string;
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  enum?: unknown[];
  default?: unknown;
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: { rule: string; message?: string; messageExpression?: string }[];
}

interface Crd {
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: object };
      additionalPrinterColumns?: { name: string; type: string; jsonPath: string; priority?: number }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

function loadCrd(file: string): { crd: Crd; schema: Schema; version: Crd["spec"]["versions"][number] } {
  const crd = parse(readFileSync(join(root, "crds", file), "utf8")) as Crd;
  const version = crd.spec.versions[0]!;
  return { crd, schema: version.schema.openAPIV3Schema, version };
}

const accessPolicy = loadCrd("vigil.dev_accesspolicies.yaml");
const sessionTermination = loadCrd("vigil.dev_sessionterminations.yaml");

// ---- the TypeScript side -------------------------------------------------------------------------------------

const program = ts.createProgram([join(apiDir, "index.ts")], {
  strict: true,
  exactOptionalPropertyTypes: true,
  allowImportingTsExtensions: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
});
const checker = program.getTypeChecker();

function interfaceType(name: string): ts.Type {
  for (const file of program.getSourceFiles()) {
    if (!file.fileName.startsWith(apiDir)) continue;
    for (const statement of file.statements) {
      if (ts.isInterfaceDeclaration(statement) && statement.name.text === name) {
        return checker.getTypeAtLocation(statement.name);
      }
    }
  }
  throw new Error(`interface ${name} not found in ${apiDir}`);
}

function stringLiterals(type: ts.Type): string[] | undefined {
  const members = type.isUnion() ? type.types : [type];
  const literals = members.filter((m) => m.isStringLiteral());
  return literals.length === members.length ? literals.map((m) => m.value) : undefined;
}

function docOf(symbol: ts.Symbol): string {
  return ts.displayPartsToString(symbol.getDocumentationComment(checker));
}

const sameSet = (a: readonly unknown[], b: readonly unknown[]): boolean =>
  a.length === b.length && a.every((x) => b.includes(x)) && b.every((x) => a.includes(x));

/** Every way in which `type` and `schema` disagree, as readable lines (empty when they agree). */
function mismatches(type: ts.Type, schema: Schema, path: string): string[] {
  const t = checker.getNonNullableType(type);
  const out: string[] = [];
  const expectType = (...allowed: string[]): void => {
    if (!allowed.includes(schema.type ?? "<none>")) out.push(`${path}: TS ${checker.typeToString(t)} but schema type ${String(schema.type)}`);
  };

  if (t.flags & ts.TypeFlags.BooleanLike) {
    expectType("boolean");
    return out;
  }
  const literals = stringLiterals(t);
  if (literals) {
    expectType("string");
    if (!sameSet(literals, schema.enum ?? [])) out.push(`${path}: TS values [${literals.join(", ")}] but schema enum [${(schema.enum ?? []).join(", ")}]`);
    return out;
  }
  if (t.flags & ts.TypeFlags.String) {
    expectType("string");
    if (schema.enum) out.push(`${path}: schema has an enum but TS is a plain string`);
    return out;
  }
  if (t.flags & ts.TypeFlags.Number) {
    expectType("integer", "number");
    return out;
  }
  if (checker.isArrayType(t)) {
    expectType("array");
    const element = checker.getTypeArguments(t as ts.TypeReference)[0]!;
    if (!schema.items) return [...out, `${path}: schema array has no items`];
    return [...out, ...mismatches(element, schema.items, `${path}[]`)];
  }

  expectType("object");
  const index = checker.getIndexInfoOfType(t, ts.IndexKind.String);
  if (index) {
    if (typeof schema.additionalProperties !== "object") return [...out, `${path}: TS Record but schema has no additionalProperties`];
    if (schema.properties) out.push(`${path}: TS Record but schema lists properties`);
    return [...out, ...mismatches(index.type, schema.additionalProperties, `${path}{}`)];
  }

  const props = checker.getPropertiesOfType(t);
  const tsNames = props.map((p) => p.name);
  const schemaProps = schema.properties ?? {};
  for (const name of tsNames) if (!(name in schemaProps)) out.push(`${path}.${name}: in TS, missing from the schema`);
  for (const name of Object.keys(schemaProps)) if (!tsNames.includes(name)) out.push(`${path}.${name}: in the schema, missing from TS`);
  const required = schema.required ?? [];
  for (const prop of props) {
    const sub = schemaProps[prop.name];
    if (!sub) continue;
    const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
    if (optional === required.includes(prop.name)) {
      out.push(`${path}.${prop.name}: ${optional ? "optional in TS but required" : "required in TS but optional"} in the schema`);
    }
    const scalarDefault = typeof sub.default === "string" || typeof sub.default === "number" ? `Default ${sub.default}.` : undefined;
    if (scalarDefault !== undefined && !docOf(prop).includes(scalarDefault)) {
      out.push(`${path}.${prop.name}: schema default not documented in TS as "${scalarDefault}"`);
    }
    out.push(...mismatches(checker.getTypeOfSymbol(prop), sub, `${path}.${prop.name}`));
  }
  return out;
}

/** Top-level names and required-ness, then spec and status recursively (metadata belongs to Kubernetes). */
function resourceMismatches(kind: string, schema: Schema): string[] {
  const type = interfaceType(kind);
  const out: string[] = [];
  const tsNames = checker.getPropertiesOfType(type).map((p) => p.name);
  if (!sameSet(tsNames, Object.keys(schema.properties ?? {}))) {
    out.push(`${kind}: TS has [${tsNames.join(", ")}], schema has [${Object.keys(schema.properties ?? {}).join(", ")}]`);
  }
  for (const part of ["spec", "status"]) {
    const prop = checker.getPropertyOfType(type, part);
    const sub = schema.properties?.[part];
    if (!prop || !sub) {
      out.push(`${kind}.${part}: missing`);
      continue;
    }
    const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
    if (optional === (schema.required ?? []).includes(part)) out.push(`${kind}.${part}: optional-ness differs`);
    out.push(...mismatches(checker.getTypeOfSymbol(prop), sub, `${kind}.${part}`));
  }
  return out;
}

// ---- structural facts ----------------------------------------------------------------------------------------

function walk(schema: Schema, path: string, visit: (s: Schema, path: string) => void): void {
  visit(schema, path);
  for (const [name, sub] of Object.entries(schema.properties ?? {})) walk(sub, `${path}.${name}`, visit);
  if (schema.items) walk(schema.items, `${path}[]`, visit);
  if (typeof schema.additionalProperties === "object") walk(schema.additionalProperties, `${path}{}`, visit);
}

/** Unbounded strings, lists and maps make the API server's CEL cost estimate explode; every one must be bounded. */
function unbounded(schema: Schema): string[] {
  const out: string[] = [];
  walk(schema, "", (s, path) => {
    if (s.type === "string" && s.maxLength === undefined && !s.enum) out.push(`${path}: string without maxLength`);
    if (s.type === "array" && s.maxItems === undefined) out.push(`${path}: array without maxItems`);
    if (s.type === "array" && !s["x-kubernetes-list-type"]) out.push(`${path}: array without x-kubernetes-list-type`);
    if (typeof s.additionalProperties === "object" && s.maxProperties === undefined) out.push(`${path}: map without maxProperties`);
    for (const v of s["x-kubernetes-validations"] ?? []) {
      if (!v.message && !v.messageExpression) out.push(`${path}: rule "${v.rule}" has no message`);
    }
  });
  return out;
}

/** A printer column's JSONPath (filters dropped) must name a field the schema declares. */
function columnsPointingNowhere(schema: Schema, columns: { name: string; jsonPath: string }[]): string[] {
  return columns
    .filter((c) => !c.jsonPath.startsWith(".metadata."))
    .filter((c) => {
      const steps = c.jsonPath
        .replace(/\[\?\(.*?\)\]/g, "[]")
        .split(".")
        .filter(Boolean);
      let at: Schema | undefined = schema;
      for (const step of steps) {
        const name = step.replace(/\[\]$/, "");
        at = at?.properties?.[name];
        if (step.endsWith("[]")) at = at?.items;
      }
      return at === undefined;
    })
    .map((c) => `${c.name}: ${c.jsonPath}`);
}

// ---- the assertions --------------------------------------------------------------------------------------------

describe.each([
  { kind: "AccessPolicy", ...accessPolicy, plural: "accesspolicies", shortName: "ap" },
  { kind: "SessionTermination", ...sessionTermination, plural: "sessionterminations", shortName: "st" },
])("the $kind CRD", ({ kind, crd, schema, version, plural, shortName }) => {
  it("matches the TypeScript types field for field (names, optionality, enums, lists, maps, documented defaults)", () => {
    expect(resourceMismatches(kind, schema)).toEqual([]);
  });

  it("bounds every string, list and map, marks every list's type, and gives every CEL rule a message", () => {
    expect(unbounded(schema)).toEqual([]);
  });

  it("is vigil.dev/v1alpha1, namespaced, with a status subresource", () => {
    expect(crd.spec.group).toBe("vigil.dev");
    expect(crd.spec.scope).toBe("Namespaced");
    expect(crd.spec.versions.map((v) => v.name)).toEqual(["v1alpha1"]);
    expect(version).toMatchObject({ served: true, storage: true, subresources: { status: {} } });
  });

  it("has the kubectl names users type: plural, singular, short name and the vigil category", () => {
    expect(crd.spec.names).toMatchObject({ kind, plural, singular: kind.toLowerCase(), shortNames: [shortName] });
    expect(crd.spec.names.categories).toContain("vigil");
  });

  it("has printer columns that point at declared fields", () => {
    expect(columnsPointingNowhere(schema, version.additionalPrinterColumns ?? [])).toEqual([]);
  });
});

describe("printer columns", () => {
  const shown = (v: Crd["spec"]["versions"][number]) => (v.additionalPrinterColumns ?? []).filter((c) => !c.priority).map((c) => c.name);

  it("show an AccessPolicy's acceptance, readiness, revision and enforcement at a glance", () => {
    expect(shown(accessPolicy.version)).toEqual(["Accepted", "Ready", "Revision", "Enforcing", "Age"]);
  });

  it("show a SessionTermination's target, phase and counts at a glance", () => {
    expect(shown(sessionTermination.version)).toEqual(["Target", "Phase", "Sessions", "Connections", "Acked", "Age"]);
  });
});

describe("the drift check itself", () => {
  it("reports a property the schema lacks, a wrong enum and a wrong optionality", () => {
    const schema: Schema = {
      type: "object",
      required: ["windows", "timeZone"],
      properties: {
        timeZone: { type: "string", maxLength: 64 },
        windows: {
          type: "array",
          items: {
            type: "object",
            required: ["start", "end"],
            properties: { start: { type: "string" }, end: { type: "string" }, days: { type: "array", items: { type: "string", enum: ["Mon"] } } },
          },
        },
      },
    };
    // Schedule: timeZone is optional in TS; TimeWindow.days allows seven weekdays.
    expect(mismatches(interfaceType("Schedule"), schema, "Schedule")).toEqual([
      "Schedule.timeZone: optional in TS but required in the schema",
      "Schedule.windows[].days[]: TS values [Mon, Tue, Wed, Thu, Fri, Sat, Sun] but schema enum [Mon]",
    ]);
    expect(mismatches(interfaceType("ClaimMatch"), { type: "object", required: ["name"], properties: { name: { type: "string" } } }, "ClaimMatch")).toEqual([
      "ClaimMatch.values: in TS, missing from the schema",
    ]);
  });
});
