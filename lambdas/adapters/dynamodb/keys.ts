/** Key layout of the single table. Nothing outside the DynamoDB adapter knows these prefixes. */
const pad = (index: number) => index.toString().padStart(10, "0");

export const keys = {
  artifact: (project: string, artifact: string) => ({ PK: `PROJ#${project}`, SK: `ART#${artifact}` }),
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
  event: (partition: string, at: string, id: string) => ({ PK: partition, SK: `${at}#${id}` }),
  blob: (sha256: string) => ({ PK: `BLOB#${sha256}`, SK: "BLOB" }),
  upload: (sha256: string, uploadId: string) => ({ PK: `BLOB#${sha256}`, SK: `UPLOAD#${uploadId}` }),
  uploadPrefix: "UPLOAD#",
  user: (id: string) => ({ PK: `USER#${id}`, SK: "USER" }),
  apiKey: (keyHash: string) => ({ PK: `APIKEY#${keyHash}`, SK: "APIKEY" }),
};
