import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useLocation, useParams } from "wouter";
import { api } from "../api/client";
import { to, v1 } from "../api/routes";
import type { ArtifactResponse, Page, ProjectResponse } from "../api/types";
import { AliasChip } from "../components/chips";
import { Pager, useCursorPages } from "../components/pager";
import { Empty, QueryView } from "../components/states";
import { formatDate } from "../lib/format";

const RECENT = "mreg.recentProjects";

function recentProjects(): string[] {
  try {
    return JSON.parse(localStorage.getItem(RECENT) ?? "[]") as string[];
  } catch {
    return [];
  }
}

function remember(project: string): void {
  try {
    localStorage.setItem(RECENT, JSON.stringify([project, ...recentProjects().filter((p) => p !== project)].slice(0, 8)));
  } catch {
    // Not remembered, nothing else lost.
  }
}

export const PROJECTS_PAGE = 50;

/** Projects → artifacts: every project listed with its artifact count; a name can also be typed to open one. */
export default function ProjectsPage() {
  const params = useParams<{ project?: string }>();
  const [, navigate] = useLocation();
  const [name, setName] = useState(params.project ?? "");
  const openForm = (
    <form
      role="search"
      className="search-bar"
      onSubmit={(e) => {
        e.preventDefault();
        if (name.trim()) navigate(to.project(name.trim()));
      }}
    >
      <label htmlFor="project-name">Open a project by name</label>
      <input id="project-name" placeholder="Project name, e.g. vision" value={name} onChange={(e) => setName(e.target.value)} />
      <button type="submit" className="button">
        Open project
      </button>
    </form>
  );
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href={to.projects}>Projects</Link>
        {params.project ? (
          <>
            {" "}
            / <span aria-current="page">{params.project}</span>
          </>
        ) : null}
      </nav>
      <div className="page-head">
        <h1>{params.project ?? "Projects"}</h1>
        <p className="muted">Projects hold the artifacts training runs log. Every org user reads every project.</p>
      </div>
      {params.project ? (
        <>
          {openForm}
          <Artifacts project={params.project} />
        </>
      ) : (
        <>
          <ProjectList />
          {openForm}
        </>
      )}
      {!params.project && recentProjects().length > 0 ? (
        <section aria-labelledby="recent-title">
          <h2 id="recent-title">Recently opened</h2>
          <ul className="plain-list">
            {recentProjects().map((p) => (
              <li key={p}>
                <Link href={to.project(p)}>{p}</Link>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </>
  );
}

function ProjectList() {
  const pages = useCursorPages("projects");
  const projects = useQuery({
    queryKey: ["projects", pages.cursor],
    queryFn: () => api<Page<ProjectResponse>>(v1.projects, { query: { limit: PROJECTS_PAGE, cursor: pages.cursor } }),
    placeholderData: (previous) => previous,
  });
  return (
    <section aria-labelledby="projects-title">
      <h2 id="projects-title">All projects</h2>
      <QueryView query={projects} loadingLabel="Loading projects…">
        {(data) =>
          data.items.length === 0 && !pages.hasPrevious ? (
            <Empty title="No projects yet">A project exists once something is logged into it (mreg log -p vision …).</Empty>
          ) : (
            <table className="table" data-testid="projects-table">
              <caption className="visually-hidden">Projects, by name</caption>
              <thead>
                <tr>
                  <th scope="col">Project</th>
                  <th scope="col">Artifacts</th>
                  <th scope="col">Created</th>
                  <th scope="col">Creator</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((p) => (
                  <tr key={p.name}>
                    <th scope="row">
                      <Link href={to.project(p.name)}>{p.name}</Link>
                    </th>
                    <td className="num">{p.artifactCount}</td>
                    <td>{formatDate(p.createdAt)}</td>
                    <td>{p.createdBy}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </QueryView>
      <Pager label="Project pages" pages={pages} nextCursor={projects.data?.nextCursor} />
    </section>
  );
}

function Artifacts({ project }: { project: string }) {
  const pages = useCursorPages(project);
  const artifacts = useQuery({
    queryKey: ["artifacts", project, pages.cursor],
    queryFn: async () => {
      const page = await api<Page<ArtifactResponse>>(v1.artifacts(project), { query: { limit: 50, cursor: pages.cursor } });
      if (page.items.length > 0) remember(project);
      return page;
    },
  });
  return (
    <section aria-labelledby="artifacts-title">
      <h2 id="artifacts-title">Artifacts</h2>
      <QueryView query={artifacts} loadingLabel="Loading artifacts…">
        {(data) =>
          data.items.length === 0 ? (
            <Empty title={`No artifacts in ${project}`}>A project exists once something is logged into it (mreg log -p {project}).</Empty>
          ) : (
            <table className="table">
              <caption className="visually-hidden">Artifacts of {project}</caption>
              <thead>
                <tr>
                  <th scope="col">Artifact</th>
                  <th scope="col">Type</th>
                  <th scope="col">Versions</th>
                  <th scope="col">Latest</th>
                  <th scope="col">Aliases</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((a) => (
                  <tr key={a.name}>
                    <th scope="row">
                      <Link href={to.artifact(project, a.name)}>{a.name}</Link>
                    </th>
                    <td>{a.type}</td>
                    <td className="num">{a.versionCount}</td>
                    <td>{a.latest ? <Link href={to.artifactVersion(project, a.name, a.latest)}>{a.latest}</Link> : "none"}</td>
                    <td>
                      <div className="chip-row">
                        {Object.keys(a.aliases).map((alias) => (
                          <AliasChip key={alias} alias={alias} />
                        ))}
                      </div>
                    </td>
                    <td>{formatDate(a.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </QueryView>
      <Pager label="Artifact pages" pages={pages} nextCursor={artifacts.data?.nextCursor} />
    </section>
  );
}
