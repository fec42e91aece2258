/**
 * Object keys: `namespace/name` for namespaced objects, `name` for cluster-scoped ones (client-go
 * MetaNamespaceKeyFunc). The work queue, the informer cache and the reconcilers all speak keys, never objects.
 */

export interface ObjectRef {
  namespace: string;
  name: string;
}

export interface HasMetadata {
  metadata?: { name?: string | undefined; namespace?: string | undefined; resourceVersion?: string | undefined } | undefined;
}

export function keyOf(ref: { namespace?: string | undefined; name: string }): string {
  return ref.namespace === undefined || ref.namespace === "" ? ref.name : `${ref.namespace}/${ref.name}`;
}

/** The key of an API object, or undefined when it has no name. */
export function objectKey(obj: HasMetadata): string | undefined {
  const name = obj.metadata?.name;
  if (name === undefined || name === "") return undefined;
  return keyOf({ namespace: obj.metadata?.namespace, name });
}

export function splitKey(key: string): ObjectRef {
  const slash = key.indexOf("/");
  return slash < 0 ? { namespace: "", name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
