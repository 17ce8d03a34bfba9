import { ValidationError } from "../../core/errors.js";
import type { PageRequest } from "../../core/model.js";
import { decodeCursor } from "./dynamo-table.js";

/**
 * A cursor must point inside the list it came from: its partition and its sort-key prefix.
 * Several lists share a partition (a registry's collections and automations, the consumers
 * of each version of an artifact), and DynamoDB answers a start key outside the query with
 * an error that would otherwise surface as a 500.
 */
export function withinList(page: PageRequest, partition: string, prefix: string): PageRequest {
  if (page.cursor !== undefined && !String(decodeCursor(page.cursor, partition).SK).startsWith(prefix)) {
    throw new ValidationError("cursor is not valid for this list");
  }
  return page;
}
