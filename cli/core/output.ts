/** `-o json|yaml|name` as kubectl prints them. Pure. */
import { stringify } from "yaml";

export const asJson = (value: unknown): string => `${JSON.stringify(value, null, 4)}\n`;
export const asYaml = (value: unknown): string => stringify(value, { lineWidth: 0 });

/** kubectl's wrapper for several objects. */
export const asList = (items: readonly unknown[]): Record<string, unknown> => ({ apiVersion: "v1", kind: "List", items, metadata: { resourceVersion: "" } });

export function printObjects(format: "json" | "yaml", items: readonly unknown[], single: boolean): string {
  const value = single && items.length === 1 ? items[0] : asList(items);
  return format === "json" ? asJson(value) : asYaml(value);
}
