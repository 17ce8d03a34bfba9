import type { ProjectResponse } from "../contract/artifacts.js";
import type { Page, PageRequest, ProjectRecord } from "./model.js";
import type { ArtifactStore } from "./ports.js";

export function toProjectResponse(project: ProjectRecord): ProjectResponse {
  return {
    name: project.name,
    artifactCount: project.artifactCount,
    createdAt: project.createdAt,
    createdBy: project.createdBy,
    ...(project.ttlDays === undefined ? {} : { ttlDays: project.ttlDays }),
  };
}

/**
 * Every project, by name, with its artifact count: every org user reads every project, so
 * nothing is filtered. One query of the projects index (lambdas/adapters/dynamodb/project-index.ts).
 */
export async function listProjects(deps: { artifacts: ArtifactStore }, page: PageRequest): Promise<Page<ProjectResponse>> {
  const result = await deps.artifacts.listProjects(page);
  return { items: result.items.map(toProjectResponse), nextCursor: result.nextCursor };
}
