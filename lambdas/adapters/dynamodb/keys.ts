/** Key layout of the single table. Nothing outside the DynamoDB adapter knows these prefixes. */
const pad = (index: number) => index.toString().padStart(10, "0");

export const keys = {
  artifact: (project: string, artifact: string) => ({ PK: `PROJ#${project}`, SK: `ART#${artifact}` }),
  /** The project's own item, beside its artifacts: written by the commit that creates one of them. */
  project: (project: string) => ({ PK: `PROJ#${project}`, SK: "PROJECT" }),
  /** GSI1 partition of project items, sorted by name: `GET /v1/projects` is one query of it. */
  projectsIndex: "PROJECTS",
  artifactsOf: (project: string) => ({ PK: `PROJ#${project}`, prefix: "ART#" }),
  artifactPartition: (project: string, artifact: string) => `ART#${project}#${artifact}`,
  version: (project: string, artifact: string, index: number) => ({
    PK: `ART#${project}#${artifact}`,
    SK: `VER#${pad(index)}`,
  }),
  versionPrefix: "VER#",
  versionSortKey: (index: number) => `VER#${pad(index)}`,
  tombstone: (project: string, artifact: string, index: number) => ({
    PK: `ART#${project}#${artifact}`,
    SK: `DEL#${pad(index)}`,
  }),
  digest: (project: string, artifact: string, digest: string) => ({
    PK: `ART#${project}#${artifact}`,
    SK: `DIG#${digest}`,
  }),
  alias: (project: string, artifact: string, alias: string) => ({
    PK: `ART#${project}#${artifact}`,
    SK: `ALIAS#${alias}`,
  }),
  aliasPrefix: "ALIAS#",
  artifactHistory: (project: string, artifact: string) => `HIST#ART#${project}#${artifact}`,
  /** Left by an artifact's delete: the number its next version takes, so a new artifact of the name never reuses one. */
  retiredArtifact: (project: string, artifact: string) => ({ PK: `ART#${project}#${artifact}`, SK: "RETIRED" }),
  projectHistory: (project: string) => `HIST#PROJ#${project}`,
  /** A background job (core/jobs.ts). */
  job: (id: string) => ({ PK: `JOB#${id}`, SK: "JOB" }),
  /** GSI1 partition of queued and running jobs (a sparse index: finished ones leave it), oldest first. */
  activeJobsIndex: "JOBS#ACTIVE",
  /** GSI1 partition of versions with an expiry the sweep has not decided on yet (sparse), soonest first. */
  expiringIndex: "EXPIRING",
  expiringSortKey: (expiresAt: string, project: string, artifact: string, index: number) =>
    `${expiresAt}#${project}#${artifact}#${pad(index)}`,
  event: (partition: string, at: string, id: string) => ({ PK: partition, SK: `${at}#${id}` }),
  blob: (sha256: string) => ({ PK: `BLOB#${sha256}`, SK: "BLOB" }),
  upload: (sha256: string, uploadId: string) => ({ PK: `BLOB#${sha256}`, SK: `UPLOAD#${uploadId}` }),
  uploadPrefix: "UPLOAD#",
  /** GSI1 partition of blobs that may have no reference (sparse: a commit taking one takes the blob out), by `releasedAt`. */
  unreferencedBlobsIndex: "BLOBS#UNREFERENCED",
  /** A deleted version's references still to release (core/gc.ts): one partition the collector queries. */
  release: (project: string, artifact: string, index: number) => ({ PK: "RELEASES", SK: `REL#${project}#${artifact}#${pad(index)}` }),
  releasesPartition: "RELEASES",
  registry: (name: string) => ({ PK: `REG#${name}`, SK: "REGISTRY" }),
  registriesIndex: "REGISTRIES",
  registryHistory: (name: string) => `HIST#REG#${name}`,
  member: (registry: string, userId: string) => ({ PK: `REG#${registry}`, SK: `MEMBER#${userId}` }),
  memberPrefix: "MEMBER#",
  membershipsIndex: (userId: string) => `USER#${userId}#REGISTRIES`,
  collection: (registry: string, name: string) => ({ PK: `REG#${registry}`, SK: `COL#${name}` }),
  collectionPrefix: "COL#",
  registryPartition: (registry: string) => `REG#${registry}`,
  collectionTag: (registry: string, tag: string, collection: string) => ({
    PK: `REGTAG#${registry}#${tag}`,
    SK: `COL#${collection}`,
  }),
  collectionTagPartition: (registry: string, tag: string) => `REGTAG#${registry}#${tag}`,
  collectionPartition: (registry: string, collection: string) => `COL#${registry}#${collection}`,
  // Collection name search (collection-search.ts): one item per suffix of the lower-cased name,
  // in a partition per registry and first three characters of the suffix.
  collectionSearchPartition: (registry: string, head: string) => `COLSEARCH#${registry}#${head}`,
  collectionSearchTerm: (suffix: string, collection: string) => `${suffix}#${collection}`,
  /** A secret the deployment generated for itself (adapters/dynamodb/server-secret.ts). */
  serverSecret: (name: string) => ({ PK: "SECRET", SK: name }),
  /** Marks a one-time backfill of data written before a layout change as done. */
  migration: (name: string) => ({ PK: "MIGRATION", SK: name }),
  link: (registry: string, collection: string, index: number) => ({
    PK: `COL#${registry}#${collection}`,
    SK: `LNK#${pad(index)}`,
  }),
  linkPrefix: "LNK#",
  linkSource: (registry: string, collection: string, project: string, artifact: string, index: number) => ({
    PK: `COL#${registry}#${collection}`,
    SK: `SRC#${project}#${artifact}#${pad(index)}`,
  }),
  unlinked: (registry: string, collection: string, index: number) => ({
    PK: `COL#${registry}#${collection}`,
    SK: `UNL#${pad(index)}`,
  }),
  unlinkedPrefix: "UNL#",
  /** Promotion requests live in their collection's partition, newest last (ids are ULIDs). */
  promotion: (registry: string, collection: string, id: string) => ({
    PK: `COL#${registry}#${collection}`,
    SK: `PROMO#${id}`,
  }),
  promotionPrefix: "PROMO#",
  collectionAlias: (registry: string, collection: string, alias: string) => ({
    PK: `COL#${registry}#${collection}`,
    SK: `ALIAS#${alias}`,
  }),
  collectionHistory: (registry: string, collection: string) => `HIST#COL#${registry}#${collection}`,
  /** Lives in the artifact's partition, so the version's links are one query away. */
  linkedFrom: (project: string, artifact: string, index: number, registry: string, collection: string) => ({
    PK: `ART#${project}#${artifact}`,
    SK: `LINKED#${pad(index)}#${registry}#${collection}`,
  }),
  linkedPrefix: (index: number) => `LINKED#${pad(index)}#`,
  user: (id: string) => ({ PK: `USER#${id}`, SK: "USER" }),
  usersIndex: "USERS",
  apiKey: (keyHash: string) => ({ PK: `APIKEY#${keyHash}`, SK: "APIKEY" }),
  apiKeysIndex: "APIKEYS",
  apiKeysOfIndex: (userId: string) => `USER#${userId}#APIKEYS`,
  userHistory: (id: string) => `HIST#USER#${id}`,
  run: (project: string, id: string) => ({ PK: `RUN#${project}#${id}`, SK: "RUN" }),
  runPartition: (project: string, id: string) => `RUN#${project}#${id}`,
  /** A run's inputs and outputs live in its partition: each list is one query. */
  runInput: (project: string, id: string, source: { project: string; artifact: string; index: number }) => ({
    PK: `RUN#${project}#${id}`,
    SK: `IN#${source.project}#${source.artifact}#${pad(source.index)}`,
  }),
  runInputPrefix: "IN#",
  runOutput: (project: string, id: string, artifact: string, index: number) => ({
    PK: `RUN#${project}#${id}`,
    SK: `OUT#${artifact}#${pad(index)}`,
  }),
  runOutputPrefix: "OUT#",
  /** A metric key's history, in the run's partition beside its inputs and outputs. */
  runMetric: (project: string, id: string, key: string) => ({ PK: `RUN#${project}#${id}`, SK: `METRIC#${key}` }),
  /** In the artifact's partition, so the runs that used a version are one query away. */
  usedBy: (source: { project: string; artifact: string; index: number }, runProject: string, runId: string) => ({
    PK: `ART#${source.project}#${source.artifact}`,
    SK: `USEDBY#${pad(source.index)}#${runProject}#${runId}`,
  }),
  usedByPrefix: (index: number) => `USEDBY#${pad(index)}#`,
  automation: (registry: string, id: string) => ({ PK: `REG#${registry}`, SK: `AUTO#${id}` }),
  automationPrefix: "AUTO#",
  deliveryPartition: (registry: string, automationId: string) => `AUTO#${registry}#${automationId}`,
  delivery: (registry: string, automationId: string, id: string) => ({
    PK: `AUTO#${registry}#${automationId}`,
    SK: `DLV#${id}`,
  }),
  deliveryPrefix: "DLV#",
  /** GSI1 partition of pending deliveries (a sparse index: finished ones leave it), sorted by due time. */
  deliveriesDueIndex: "DELIVERIES#DUE",
};
