import type { TranslateConfig } from "@aws-sdk/lib-dynamodb";

/**
 * How the document client turns values into attribute values and back. Numbers: user JSON
 * (lambdas/contract/user-json.ts) holds only doubles DynamoDB stores exactly, some above
 * 2^53 (1e20); the marshaller would refuse those, and the unmarshaller would read them back
 * as BigInt, which no JSON answer can carry. So they are written as they are and read as
 * numbers again.
 */
export const DOCUMENT_TRANSLATION: TranslateConfig = {
  marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false, allowImpreciseNumbers: true },
  unmarshallOptions: { wrapNumbers: (value: string) => Number(value) },
};

/**
 * User JSON as the marshaller must see it: every object a Map. The marshaller picks an
 * object's type from `value.constructor.name`, so a plain object with its own key
 * `constructor` (`{"constructor": "ResNet50"}`, or `{"name": "Set"}` under it) would be
 * refused or taken for a set, a number or bytes; a Map is a map whatever its keys. Read
 * back, a map is a plain object with those keys as own properties. Iterative: the
 * contract bounds the depth, nothing here relies on the stack.
 */
export function storableJson(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const root = { slot: undefined as unknown };
  const stack: { source: unknown; assign: (converted: unknown) => void }[] = [{ source: value, assign: (v) => (root.slot = v) }];
  while (stack.length > 0) {
    const { source, assign } = stack.pop()!;
    if (typeof source !== "object" || source === null) {
      assign(source);
    } else if (Array.isArray(source)) {
      const list: unknown[] = new Array(source.length);
      assign(list);
      source.forEach((element, i) => stack.push({ source: element, assign: (v) => (list[i] = v) }));
    } else {
      const map = new Map<string, unknown>();
      assign(map);
      // Converting what was converted already (an item written, then snapshotted) changes nothing.
      const entries = source instanceof Map ? [...(source as Map<string, unknown>)] : Object.entries(source);
      for (const [key, element] of entries) {
        map.set(key, undefined);
        stack.push({ source: element, assign: (v) => map.set(key, v) });
      }
    }
  }
  return root.slot;
}
