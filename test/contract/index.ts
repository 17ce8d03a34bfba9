import { artifactStoreContract } from "./artifact-store.js";
import { automationStoreContract } from "./automation-store.js";
import { blobLedgerContract } from "./blob-ledger.js";
import { blobReferencesContract } from "./blob-references.js";
import { identityStoreContract } from "./identity-store.js";
import { lifecycleContract } from "./lifecycle.js";
import { bulkDeleteContract } from "./bulk-deletes.js";
import { lineageStoreContract } from "./lineage-store.js";
import { promotionStoreContract } from "./promotion-store.js";
import { registryStoreContract } from "./registry-store.js";
import type { MakeStores } from "./stores.js";

/**
 * One suite per store port, run against the in-memory fakes (test/unit/port-contracts.test.ts)
 * and the DynamoDB stores on DynamoDB Local (test/integration/port-contracts.test.ts), so the
 * fakes the core's unit tests rely on cannot drift from what the table does.
 */
export function portContracts(make: MakeStores): void {
  artifactStoreContract(make);
  blobLedgerContract(make);
  blobReferencesContract(make);
  identityStoreContract(make);
  registryStoreContract(make);
  lineageStoreContract(make);
  automationStoreContract(make);
  lifecycleContract(make);
  promotionStoreContract(make);
  bulkDeleteContract(make);
}
