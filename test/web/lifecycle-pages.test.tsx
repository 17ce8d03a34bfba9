// @vitest-environment jsdom
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import type { ComponentType } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Route, Router } from "wouter";
import { memoryLocation } from "wouter/memory-location";
import { MeContext } from "../../web/src/api/me";
import type {
  CollectionResponse,
  CollectionVersionResponse,
  PromotionResponse,
  RegistryResponse,
  Role,
  UserResponse,
  VersionResponse,
} from "../../web/src/api/types";
import ArtifactVersionPage from "../../web/src/pages/artifact-version";
import CollectionPage from "../../web/src/pages/collection";
import ProjectsPage from "../../web/src/pages/projects";
import RegistryPage from "../../web/src/pages/registry";
import UsersPage from "../../web/src/pages/users";

const at = "2026-01-01T00:00:00.000Z";

const registry = (role: Role, approvalsRequired = 0): RegistryResponse => ({
  name: "model",
  description: null,
  visibility: "organization",
  artifactTypes: ["model"],
  protectedAliases: ["production"],
  approvalsRequired,
  createdAt: at,
  createdBy: "admin",
  role,
});

const collection: CollectionResponse = {
  registry: "model",
  name: "mnist",
  type: "model",
  description: "A classifier.",
  tags: ["vision"],
  aliases: { latest: "v1", production: "v0", staging: "v0" },
  latest: "v1",
  linkCount: 2,
  createdAt: at,
  createdBy: "admin",
};

const linked = (index: number, aliases: string[]): CollectionVersionResponse => ({
  registry: "model",
  collection: "mnist",
  version: `v${index}`,
  index,
  digest: "d".repeat(64),
  type: "model",
  aliases,
  tags: [],
  metadata: {},
  description: null,
  createdAt: at,
  createdBy: "admin",
  size: 10,
  fileCount: 1,
  source: { project: "demo", artifact: "mnist", version: `v${index}`, digest: "d".repeat(64) },
});

const promotion: PromotionResponse = {
  id: "01PROMO",
  registry: "model",
  collection: "mnist",
  alias: "production",
  version: "v1",
  from: "v0",
  note: "better on the holdout",
  status: "pending",
  requestedBy: "ana",
  requestedAt: at,
  approvals: [],
  approvalsRequired: 1,
  rejection: null,
  decidedAt: null,
  staleReason: null,
};

const artifactVersion: VersionResponse = {
  project: "demo",
  artifact: "mnist",
  version: "v0",
  index: 0,
  digest: "d".repeat(64),
  type: "model",
  aliases: [],
  metadata: { accuracy: 0.9, candidate: true },
  description: null,
  createdAt: at,
  createdBy: "ana",
  size: 10,
  fileCount: 1,
  runId: null,
} as unknown as VersionResponse;

type Call = { method: string; path: string; search: string; body: unknown };
type Handler = (call: Call) => [number, unknown] | undefined;

/** A stubbed API: the handler answers what it knows, every request is recorded, anything else is a 404. */
function serve(handler: Handler): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: URL | string, init?: RequestInit) => {
      const url = new URL(String(input));
      const call = {
        method: init?.method ?? "GET",
        path: url.pathname,
        search: url.search,
        body: init?.body ? JSON.parse(String(init.body)) : undefined,
      };
      calls.push(call);
      const [status, body] = handler(call) ?? [404, { error: { code: "not_found", message: call.path } }];
      return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    }),
  );
  return calls;
}

function collectionApi(role: Role, extra: Handler = () => undefined, approvalsRequired = 0): Call[] {
  return serve((call) => {
    const answer = extra(call);
    if (answer) return answer;
    if (call.method !== "GET") return undefined;
    if (call.path === "/v1/registries/model") return [200, registry(role, approvalsRequired)];
    if (call.path === "/v1/registries/model/collections/mnist") return [200, collection];
    if (call.path === "/v1/registries/model/collections/mnist/versions")
      return [200, { items: [linked(1, ["latest"]), linked(0, ["production", "staging"])] }];
    if (call.path === "/v1/registries/model/collections/mnist/promotions") return [200, { items: [promotion] }];
    return undefined;
  });
}

function renderAt(path: string, pattern: string, page: ComponentType, me: Partial<UserResponse> = {}) {
  const { hook } = memoryLocation({ path });
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const user: UserResponse = { id: "ana", name: "ana", role: "member", status: "active", createdAt: at, ...me };
  return render(
    <QueryClientProvider client={client}>
      <MeContext.Provider value={user}>
        <Router hook={hook}>
          <Route path={pattern} component={page} />
        </Router>
      </MeContext.Provider>
    </QueryClientProvider>,
  );
}

const renderCollection = (me: Partial<UserResponse> = {}) =>
  renderAt("/registries/model/collections/mnist", "/registries/:registry/collections/:collection/:tab?", CollectionPage, me);

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("collection edits by role", () => {
  it("gives a viewer neither the description editor nor the delete", async () => {
    collectionApi("viewer");
    renderCollection();
    await screen.findByTestId("versions-table");
    expect(screen.queryByRole("button", { name: "Edit description" })).toBeNull();
    expect(screen.queryByRole("button", { name: /Delete collection/ })).toBeNull();
  });

  it("lets a member edit the description with a rendered preview, sent through PATCH", async () => {
    const calls = collectionApi("member", (call) =>
      call.method === "PATCH" ? [200, { ...collection, description: (call.body as { description: string }).description }] : undefined,
    );
    renderCollection();
    fireEvent.click(await screen.findByRole("button", { name: "Edit description" }));
    expect(screen.queryByRole("button", { name: /Delete collection/ })).toBeNull();
    fireEvent.change(screen.getByLabelText("Description (markdown)"), {
      target: { value: "# Card\n\n<img src=x onerror=alert(1)>**bold**" },
    });
    const preview = screen.getByRole("region", { name: "Preview" });
    expect(preview.querySelector("h1")?.textContent).toBe("Card");
    expect(preview.querySelector("[onerror]")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Save description" }));
    await screen.findByRole("heading", { name: "Card" });
    expect(calls.filter((c) => c.method === "PATCH")).toEqual([
      {
        method: "PATCH",
        path: "/v1/registries/model/collections/mnist",
        search: "",
        body: { description: "# Card\n\n<img src=x onerror=alert(1)>**bold**" },
      },
    ]);
    expect(screen.queryByLabelText("Description (markdown)")).toBeNull();
  });

  it("edits tags through the collection PATCH with the whole set", async () => {
    const calls = collectionApi("member", (call) =>
      call.method === "PATCH" ? [200, { ...collection, ...(call.body as object) }] : undefined,
    );
    renderCollection();
    fireEvent.change(await screen.findByLabelText("Add a tag"), { target: { value: "digits" } });
    fireEvent.click(screen.getByRole("button", { name: "Add tag" }));
    await waitFor(() => expect(calls.some((c) => c.method === "PATCH")).toBe(true));
    expect(calls.find((c) => c.method === "PATCH")!.body).toEqual({ tags: ["vision", "digits"] });
    expect(calls.some((c) => c.path.includes("/tags/"))).toBe(false);
  });

  it("moves an alias expecting what the page showed, and names the new holder after a concurrent move", async () => {
    const calls = collectionApi("member", (call) =>
      call.method === "PUT"
        ? [412, { error: { code: "precondition_failed", message: "staging names v1, not v0", current: "v1", requestId: "r" } }]
        : undefined,
    );
    renderCollection();
    fireEvent.change(await screen.findByLabelText("Alias"), { target: { value: "staging" } });
    fireEvent.change(screen.getByLabelText("Version"), { target: { value: "v1" } });
    fireEvent.click(screen.getByRole("button", { name: "Move alias" }));
    expect(await screen.findByText("staging was moved meanwhile to v1: the page now shows it; choose again.")).toBeTruthy();
    expect(calls.find((c) => c.method === "PUT")).toMatchObject({
      path: "/v1/registries/model/collections/mnist/aliases/staging",
      body: { version: "v1", expectedVersion: "v0" },
    });
    // The collection is read again so the page shows the alias where it is now.
    await waitFor(() =>
      expect(calls.filter((c) => c.path === "/v1/registries/model/collections/mnist" && c.method === "GET").length).toBeGreaterThan(1),
    );
  });

  it("asks an admin twice before a forced delete, naming how many links go", async () => {
    const calls = collectionApi("admin", (call) =>
      call.method === "DELETE" ? [200, { deleted: "@model/mnist", unlinked: ["v0", "v1"] }] : undefined,
    );
    renderCollection({ id: "admin", name: "admin", role: "admin" });
    fireEvent.click(await screen.findByRole("button", { name: "Delete collection…" }));
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(screen.getByText(/mnist links 2 versions: deleting it first unlinks all 2/)).toBeTruthy();
    const force = screen.getByRole("button", { name: "Unlink 2 and delete" });
    expect((force as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByLabelText("Unlink 2 versions and delete mnist"));
    fireEvent.click(force);
    await waitFor(() => expect(calls.some((c) => c.method === "DELETE")).toBe(true));
    expect(calls.find((c) => c.method === "DELETE")).toMatchObject({
      path: "/v1/registries/model/collections/mnist",
      search: "?force=true",
    });
  });
});

describe("promotions on the collection page", () => {
  it("is absent when the registry requires no approvals", async () => {
    collectionApi("admin");
    renderCollection({ id: "ola", role: "admin" });
    await screen.findByTestId("versions-table");
    expect(screen.queryByRole("heading", { name: "Promotions" })).toBeNull();
  });

  it("lets a member request one and refuses the protected alias's direct move, saying why", async () => {
    const calls = collectionApi("member", (call) => (call.method === "POST" ? [201, { ...promotion, id: "02" }] : undefined), 1);
    renderCollection();
    fireEvent.change(await screen.findByLabelText("Alias"), { target: { value: "production" } });
    expect((screen.getByRole("button", { name: "Move alias" }) as HTMLButtonElement).disabled).toBe(true);
    expect(document.getElementById("alias-reason")!.textContent).toContain("moves only through a promotion approved by 1 admin");
    expect(await screen.findByTestId("approvals")).toHaveProperty("textContent", "0 of 1 approval");
    // A member sees pending requests but no decision buttons.
    expect(screen.queryByRole("button", { name: /^Approve/ })).toBeNull();
    fireEvent.change(screen.getByLabelText("to version"), { target: { value: "v1" } });
    fireEvent.change(screen.getByLabelText("Note"), { target: { value: "+1.2%" } });
    fireEvent.click(screen.getByRole("button", { name: "Request promotion" }));
    await waitFor(() => expect(calls.some((c) => c.method === "POST")).toBe(true));
    expect(calls.find((c) => c.method === "POST")).toMatchObject({
      path: "/v1/registries/model/collections/mnist/promotions",
      body: { alias: "production", version: "v1", note: "+1.2%" },
    });
  });

  it("disables approve and reject for the admin who asked, with the reason", async () => {
    collectionApi("admin", undefined, 1);
    renderCollection({ id: "ana", role: "admin" });
    const approve = await screen.findByRole("button", { name: "Approve production → v1" });
    expect((approve as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByRole("button", { name: "Reject production → v1" }) as HTMLButtonElement).disabled).toBe(true);
    expect(document.getElementById(approve.getAttribute("aria-describedby")!)!.textContent).toBe(
      "You asked for this promotion: another admin must decide it.",
    );
  });

  it("lets another admin approve, and says the alias moved", async () => {
    const calls = collectionApi(
      "admin",
      (call) =>
        call.method === "POST" && call.path.endsWith("/approve")
          ? [200, { ...promotion, status: "approved", approvals: [{ by: "ola", at }], decidedAt: at }]
          : undefined,
      1,
    );
    renderCollection({ id: "ola", role: "admin" });
    const approve = await screen.findByRole("button", { name: "Approve production → v1" });
    fireEvent.change(screen.getByLabelText("Decision note"), { target: { value: "ok" } });
    fireEvent.click(approve);
    expect(await screen.findByText("Approved: production now names v1.")).toBeTruthy();
    expect(calls.find((c) => c.method === "POST")).toMatchObject({
      path: "/v1/registries/model/collections/mnist/promotions/01PROMO/approve",
      body: { note: "ok" },
    });
  });
});

describe("version metadata edits", () => {
  it("sends only the changes, with null for a removed key", async () => {
    const calls = serve((call) =>
      call.path === "/v1/projects/demo/artifacts/mnist/versions/v0"
        ? call.method === "PATCH"
          ? [200, { ...artifactVersion, metadata: { accuracy: 0.95, f1: 0.9 } }]
          : [200, artifactVersion]
        : call.path.endsWith("/files")
          ? [200, { items: [], digest: "d".repeat(64) }]
          : undefined,
    );
    renderAt(
      "/projects/demo/artifacts/mnist/versions/v0",
      "/projects/:project/artifacts/:artifact/versions/:version/:tab?",
      ArtifactVersionPage,
    );
    fireEvent.click(await screen.findByRole("button", { name: "Edit metadata" }));
    const editor = screen.getByLabelText("Metadata (a JSON object)");
    fireEvent.change(editor, { target: { value: '{"accuracy": 0.95, "f1": 0.9' } });
    expect(screen.getByTestId("metadata-summary").textContent).toContain("Not valid JSON");
    expect((screen.getByRole("button", { name: "Save metadata" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(editor, { target: { value: '{"accuracy": 0.95, "f1": 0.9}' } });
    expect(screen.getByTestId("metadata-summary").textContent).toBe("Sets accuracy, f1; removes candidate.");
    fireEvent.click(screen.getByRole("button", { name: "Save metadata" }));
    await waitFor(() => expect(calls.some((c) => c.method === "PATCH")).toBe(true));
    expect(calls.find((c) => c.method === "PATCH")!.body).toEqual({ metadata: { accuracy: 0.95, f1: 0.9, candidate: null } });
    await waitFor(() => expect(screen.queryByLabelText("Metadata (a JSON object)")).toBeNull());
  });

  it("gives an org viewer no editor", async () => {
    serve((call) =>
      call.path === "/v1/projects/demo/artifacts/mnist/versions/v0"
        ? [200, artifactVersion]
        : call.path.endsWith("/files")
          ? [200, { items: [], digest: "d".repeat(64) }]
          : undefined,
    );
    renderAt(
      "/projects/demo/artifacts/mnist/versions/v0",
      "/projects/:project/artifacts/:artifact/versions/:version/:tab?",
      ArtifactVersionPage,
      { role: "viewer" },
    );
    await screen.findByRole("heading", { name: "Metadata" });
    expect(screen.queryByRole("button", { name: "Edit metadata" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Edit description" })).toBeNull();
  });
});

describe("projects and users", () => {
  it("lists projects with their artifact counts, page by page", async () => {
    const calls = serve((call) =>
      call.path === "/v1/projects"
        ? call.search.includes("cursor=c2")
          ? [200, { items: [{ name: "zeta", artifactCount: 1, createdAt: at, createdBy: "ana" }] }]
          : [200, { items: [{ name: "vision", artifactCount: 3, createdAt: at, createdBy: "ana" }], nextCursor: "c2" }]
        : undefined,
    );
    renderAt("/projects", "/projects", ProjectsPage);
    const table = await screen.findByTestId("projects-table");
    expect(table.textContent).toContain("vision3");
    fireEvent.click(screen.getByRole("button", { name: "Next →" }));
    await screen.findByRole("link", { name: "zeta" });
    expect(calls.map((c) => c.search)).toEqual(["?limit=50", "?limit=50&cursor=c2"]);
    expect(screen.getByLabelText("Open a project by name")).toBeTruthy();
  });

  it("lets an org admin deactivate another user and change a role, never their own", async () => {
    vi.stubGlobal("confirm", () => true);
    const users: UserResponse[] = [
      { id: "admin", name: "admin", role: "admin", status: "active", createdAt: at },
      { id: "ana", name: "ana", role: "member", status: "active", createdAt: at },
      { id: "vic", name: "vic", role: "viewer", status: "deactivated", createdAt: at },
    ];
    const calls = serve((call) =>
      call.path === "/v1/users"
        ? [200, { items: users }]
        : call.method === "PATCH"
          ? [200, { ...users[1], ...(call.body as object) }]
          : undefined,
    );
    renderAt("/users", "/users", UsersPage, { id: "admin", name: "admin", role: "admin" });
    expect((await screen.findByRole("button", { name: "Deactivate admin" })).hasAttribute("disabled")).toBe(true);
    expect((screen.getByLabelText("Org role of admin") as HTMLSelectElement).disabled).toBe(true);
    expect(screen.getByTestId("status-vic").textContent).toBe("deactivated");
    expect(screen.getByRole("button", { name: "Reactivate vic" })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Deactivate ana" }));
    fireEvent.change(screen.getByLabelText("Org role of ana"), { target: { value: "admin" } });
    await waitFor(() => expect(calls.filter((c) => c.method === "PATCH")).toHaveLength(2));
    expect(calls.filter((c) => c.method === "PATCH").map((c) => [c.path, c.body])).toEqual([
      ["/v1/users/ana", { status: "deactivated" }],
      ["/v1/users/ana", { role: "admin" }],
    ]);
  });
});

describe("the registry's members and settings by role", () => {
  function registryApi(role: Role) {
    return serve((call) =>
      call.path === "/v1/registries/model"
        ? call.method === "PATCH"
          ? [200, { ...registry(role), ...(call.body as object) }]
          : [200, registry(role)]
        : call.path === "/v1/registries/model/members"
          ? [200, { items: [{ user: "ana", role: "member", grantedAt: at, grantedBy: "admin" }] }]
          : call.path === "/v1/registries/model/collections"
            ? [200, { items: [] }]
            : undefined,
    );
  }
  const renderRegistry = (tab: string, me: Partial<UserResponse> = {}) =>
    renderAt(`/registries/model/${tab}`, "/registries/:registry/:tab?", RegistryPage, me);

  it("shows a viewer the members with their roles, and nothing to change", async () => {
    registryApi("viewer");
    renderRegistry("members", { id: "vic", role: "viewer" });
    const table = await screen.findByTestId("members-table");
    expect(table.textContent).toContain("anamember");
    expect(screen.queryByRole("button", { name: "Grant role" })).toBeNull();
    expect(screen.queryByRole("link", { name: "Automations" })).toBeNull();
    expect(screen.queryByRole("link", { name: "Settings" })).toBeNull();
  });

  it("gives a registry admin the grant form and the settings, and an org admin the delete", async () => {
    const calls = registryApi("admin");
    renderRegistry("settings", { id: "ola", role: "member" });
    fireEvent.change(await screen.findByLabelText("Approvals a promotion needs"), { target: { value: "2" } });
    fireEvent.click(screen.getByRole("button", { name: "Save approvals" }));
    await screen.findByText("Promotions now need 2 approvals.");
    expect(calls.find((c) => c.method === "PATCH")).toMatchObject({ path: "/v1/registries/model", body: { approvalsRequired: 2 } });
    // Deleting a registry is for org admins (the route's permission), not for its own admins.
    expect(screen.queryByRole("button", { name: "Delete registry…" })).toBeNull();
    cleanup();
    registryApi("admin");
    renderRegistry("settings", { id: "admin", role: "admin" });
    fireEvent.click(await screen.findByRole("button", { name: "Delete registry…" }));
    expect(screen.getByRole("button", { name: "Delete model" })).toBeTruthy();
  });
});
