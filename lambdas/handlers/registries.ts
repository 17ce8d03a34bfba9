import * as z from "zod";
import type { RegistryAccess } from "../core/authorize.js";
import { ForbiddenError } from "../core/errors.js";
import {
  createCollection,
  createRegistry,
  getCollection,
  getCollectionVersion,
  getRegistry,
  linkVersion,
  listCollectionFiles,
  listCollectionHistory,
  listCollections,
  listCollectionVersions,
  listRegistries,
  removeCollectionAlias,
  setCollectionAlias,
  tagCollection,
  tagCollectionVersion,
  unlinkVersion,
} from "../core/registries.js";
import { grantMember, revokeMember } from "../core/members.js";
import { deleteCollection, updateCollection } from "../core/collections.js";
import { approvePromotion, getPromotion, listPromotions, rejectPromotion, requestPromotion } from "../core/promotions.js";
import { deleteRegistry, listMembers, updateRegistry } from "../core/registry-admin.js";
import { created, ok, type ApiRequest, type Operations } from "../http/api-handler.js";
import { parse } from "../http/validate.js";
import { filesQuery, setAliasRequest } from "../contract/artifacts.js";
import { alias, name, pageQuery } from "../contract/common.js";
import {
  collectionsQuery,
  createCollectionRequest,
  createRegistryRequest,
  deleteCollectionQuery,
  deleteRegistryQuery,
  linkRequest,
  memberRequest,
  promotionDecision,
  promotionRequest,
  promotionsQuery,
  updateCollectionRequest,
  updateRegistryRequest,
} from "../contract/registries.js";

const collectionParams = z.object({ registry: name, collection: name });
const versionParams = collectionParams.extend({ v: z.string().min(1).max(140) });

/** The registry access the route table's permission check resolved; its absence is a wiring bug. */
function access(request: ApiRequest): RegistryAccess {
  if (!request.registry) throw new ForbiddenError("no registry access was established for this route");
  return request.registry;
}

function collectionRef(request: ApiRequest) {
  const params = parse(collectionParams, request.params, "path");
  return { registry: access(request).registry.name, collection: params.collection };
}

function versionSelector(request: ApiRequest): string {
  return parse(versionParams, request.params, "path").v;
}

function promotionKey(request: ApiRequest) {
  const { id } = parse(z.object({ id: name }), request.params, "path");
  return { ...collectionRef(request), id };
}

function tagParam(request: ApiRequest): string {
  return parse(z.object({ tag: name }), request.params, "path").tag;
}

/** The operations of the `registries` function, by the names lambdas/contract/routes.ts gives them. */
export const registryOperations: Operations<"registries"> = {
  createRegistry: async (request) => ({
    status: 201,
    body: await createRegistry(request.services, request.principal, parse(createRegistryRequest, request.body, "registry")),
  }),
  listRegistries: async (request) =>
    ok(await listRegistries(request.services, request.principal, parse(pageQuery, request.query, "query"))),
  getRegistry: async (request) => ok(getRegistry(access(request))),
  putMember: async (request) => {
    const { user } = parse(z.object({ user: name }), request.params, "path");
    const { role } = parse(memberRequest, request.body, "membership");
    return ok(await grantMember(request.services, request.principal, access(request), user, role));
  },
  removeMember: async (request) => {
    const { user } = parse(z.object({ user: name }), request.params, "path");
    return ok(await revokeMember(request.services, request.principal, access(request), user));
  },
  createCollection: async (request) => ({
    status: 201,
    body: await createCollection(
      request.services,
      request.principal,
      access(request),
      parse(createCollectionRequest, request.body, "collection"),
    ),
  }),
  listCollections: async (request) =>
    ok(await listCollections(request.services, access(request), parse(collectionsQuery, request.query, "query"))),
  getCollection: async (request) => ok(await getCollection(request.services, collectionRef(request))),
  link: async (request) => {
    const ref = collectionRef(request);
    const result = await linkVersion(
      request.services,
      request.principal,
      access(request),
      ref.collection,
      parse(linkRequest, request.body, "link"),
    );
    if (result.created) request.metrics.linkCreated();
    return { status: result.created ? 201 : 200, body: result };
  },
  listCollectionVersions: async (request) =>
    ok(await listCollectionVersions(request.services, collectionRef(request), parse(pageQuery, request.query, "query"))),
  getCollectionVersion: async (request) =>
    ok(await getCollectionVersion(request.services, collectionRef(request), versionSelector(request), access(request))),
  listCollectionFiles: async (request) =>
    ok(
      await listCollectionFiles(
        request.services,
        access(request),
        collectionRef(request),
        versionSelector(request),
        parse(filesQuery, request.query, "query"),
      ),
    ),
  unlink: async (request) =>
    ok(await unlinkVersion(request.services, request.principal, access(request), collectionRef(request), versionSelector(request))),
  setCollectionAlias: async (request) => {
    const params = parse(collectionParams.extend({ alias }), request.params, "path");
    const { version, expectedVersion } = parse(setAliasRequest, request.body, "alias");
    return ok(
      await setCollectionAlias(
        request.services,
        request.principal,
        access(request),
        collectionRef(request),
        params.alias,
        version,
        expectedVersion,
      ),
    );
  },
  removeCollectionAlias: async (request) => {
    const params = parse(collectionParams.extend({ alias }), request.params, "path");
    return ok(await removeCollectionAlias(request.services, request.principal, access(request), collectionRef(request), params.alias));
  },
  tagCollection: async (request) =>
    ok(await tagCollection(request.services, request.principal, collectionRef(request), tagParam(request), true)),
  untagCollection: async (request) =>
    ok(await tagCollection(request.services, request.principal, collectionRef(request), tagParam(request), false)),
  tagCollectionVersion: async (request) =>
    ok(
      await tagCollectionVersion(
        request.services,
        request.principal,
        collectionRef(request),
        versionSelector(request),
        tagParam(request),
        true,
      ),
    ),
  untagCollectionVersion: async (request) =>
    ok(
      await tagCollectionVersion(
        request.services,
        request.principal,
        collectionRef(request),
        versionSelector(request),
        tagParam(request),
        false,
      ),
    ),
  listCollectionHistory: async (request) =>
    ok(await listCollectionHistory(request.services, collectionRef(request), parse(pageQuery, request.query, "query"))),
  updateRegistry: async (request) =>
    ok(
      await updateRegistry(
        request.services,
        request.principal,
        access(request),
        parse(updateRegistryRequest, request.body, "registry edit"),
      ),
    ),
  deleteRegistry: async (request) => {
    const { registry } = parse(z.object({ registry: name }), request.params, "path");
    const { dryRun } = parse(deleteRegistryQuery, request.query, "query");
    return ok(await deleteRegistry(request.services, request.principal, registry, { dryRun: dryRun === "true" }));
  },
  listMembers: async (request) => ok(await listMembers(request.services, access(request), parse(pageQuery, request.query, "query"))),
  updateCollection: async (request) =>
    ok(
      await updateCollection(
        request.services,
        request.principal,
        collectionRef(request),
        parse(updateCollectionRequest, request.body, "collection edit"),
      ),
    ),
  deleteCollection: async (request) => {
    const { force, dryRun } = parse(deleteCollectionQuery, request.query, "query");
    return ok(
      await deleteCollection(request.services, request.principal, collectionRef(request), {
        force: force === "true",
        dryRun: dryRun === "true",
      }),
    );
  },
  requestPromotion: async (request) =>
    created(
      await requestPromotion(
        request.services,
        request.principal,
        access(request),
        collectionRef(request),
        parse(promotionRequest, request.body, "promotion"),
      ),
    ),
  listPromotions: async (request) =>
    ok(await listPromotions(request.services, access(request), collectionRef(request), parse(promotionsQuery, request.query, "query"))),
  getPromotion: async (request) => ok(await getPromotion(request.services, access(request), promotionKey(request))),
  approvePromotion: async (request) => {
    const { note } = parse(promotionDecision, request.body ?? {}, "approval");
    return ok(await approvePromotion(request.services, request.principal, access(request), promotionKey(request), note));
  },
  rejectPromotion: async (request) => {
    const { note } = parse(promotionDecision, request.body ?? {}, "rejection");
    return ok(await rejectPromotion(request.services, request.principal, access(request), promotionKey(request), note));
  },
};
