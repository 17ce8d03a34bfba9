// @vitest-environment jsdom
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Route, Router } from "wouter";
import { memoryLocation } from "wouter/memory-location";
import { MeContext } from "../../web/src/api/me";
import type { CollectionResponse, CollectionVersionResponse, RegistryResponse, Role } from "../../web/src/api/types";
import CollectionPage from "../../web/src/pages/collection";

const registry = (role: Role): RegistryResponse => ({
  name: "model",
  description: null,
  visibility: "organization",
  artifactTypes: ["model"],
  protectedAliases: ["production"],
  approvalsRequired: 0,
  createdAt: "2026-01-01T00:00:00.000Z",
  createdBy: "admin",
  role,
});

const collection: CollectionResponse = {
  registry: "model",
  name: "mnist",
  type: "model",
  description: "# MNIST\n<script>window.injected = true</script>Classifier",
  tags: ["vision"],
  aliases: { latest: "v1", production: "v0" },
  latest: "v1",
  linkCount: 2,
  createdAt: "2026-01-01T00:00:00.000Z",
  createdBy: "admin",
};

const version = (index: number, aliases: string[]): CollectionVersionResponse => ({
  registry: "model",
  collection: "mnist",
  version: `v${index}`,
  index,
  digest: "d".repeat(64),
  type: "model",
  aliases,
  tags: [],
  metadata: { accuracy: 0.9 + index / 100 },
  description: null,
  createdAt: "2026-01-01T00:00:00.000Z",
  createdBy: "admin",
  size: 10,
  fileCount: 1,
  source: { project: "demo", artifact: "mnist", version: `v${index}`, digest: "d".repeat(64) },
});

/** The API as the page reads it: the registry (with the caller's role), the collection, its versions. */
function serveApi(role: Role | 403) {
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: URL | string) => {
      const path = new URL(String(input)).pathname;
      const json = (status: number, body: unknown) =>
        new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
      if (path === "/v1/registries/model") {
        return role === 403
          ? json(403, { error: { code: "forbidden", message: "ana is not a member of registry model" } })
          : json(200, registry(role));
      }
      if (path === "/v1/registries/model/collections/mnist") return json(200, collection);
      if (path === "/v1/registries/model/collections/mnist/versions")
        return json(200, { items: [version(1, ["latest"]), version(0, ["production"])] });
      if (path.endsWith("/history")) return json(200, { items: [] });
      return json(404, { error: { code: "not_found", message: path } });
    }),
  );
}

function renderCollection() {
  const { hook } = memoryLocation({ path: "/registries/model/collections/mnist" });
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MeContext.Provider value={{ id: "ana", name: "ana", role: "member", status: "active", createdAt: "2026-01-01T00:00:00.000Z" }}>
        <Router hook={hook}>
          <Route path="/registries/:registry/collections/:collection/:tab?" component={CollectionPage} />
        </Router>
      </MeContext.Provider>
    </QueryClientProvider>,
  );
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("the collection page by registry role", () => {
  it("shows a viewer the versions and nothing it cannot use", async () => {
    serveApi("viewer");
    renderCollection();
    expect(await screen.findByTestId("versions-table")).toBeTruthy();
    expect(screen.getByRole("button", { name: /Compare selected/ })).toBeTruthy();
    for (const name of [/Unlink/, /Move alias/, /Add tag/, /Remove tag/, /Remove/]) {
      expect(screen.queryByRole("button", { name }), String(name)).toBeNull();
    }
    expect(screen.queryByLabelText("Alias")).toBeNull();
  });

  it("lets a member move an unprotected alias and explains why a protected one is refused", async () => {
    serveApi("member");
    renderCollection();
    const alias = await screen.findByLabelText("Alias");
    const move = screen.getByRole("button", { name: "Move alias" });
    fireEvent.change(alias, { target: { value: "production" } });
    expect((move as HTMLButtonElement).disabled).toBe(true);
    expect(document.getElementById("alias-reason")!.textContent).toBe(
      "production is protected in registry model: only its admins may set or remove it.",
    );
    fireEvent.change(alias, { target: { value: "staging" } });
    expect((move as HTMLButtonElement).disabled).toBe(false);
    const removeProduction = screen.getByRole("button", { name: "Remove alias production" });
    expect((removeProduction as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getAllByRole("button", { name: /Unlink/ })).toHaveLength(2);
    expect(screen.getByRole("button", { name: "Add tag" })).toBeTruthy();
  });

  it("lets an admin move a protected alias", async () => {
    serveApi("admin");
    renderCollection();
    const alias = await screen.findByLabelText("Alias");
    fireEvent.change(alias, { target: { value: "production" } });
    expect((screen.getByRole("button", { name: "Move alias" }) as HTMLButtonElement).disabled).toBe(false);
    expect((screen.getByRole("button", { name: "Remove alias production" }) as HTMLButtonElement).disabled).toBe(false);
  });

  it("renders the description's markdown without running its script", async () => {
    serveApi("viewer");
    const { container } = renderCollection();
    expect(await screen.findByRole("heading", { name: "MNIST" })).toBeTruthy();
    expect(container.querySelector(".markdown script")).toBeNull();
    expect((window as { injected?: boolean }).injected).toBeUndefined();
  });

  it("shows a 403 as a message saying access is missing, not a blank page", async () => {
    serveApi(403);
    renderCollection();
    expect(await screen.findByText("You do not have access to this")).toBeTruthy();
    expect(screen.getByRole("alert").textContent).toContain("ana is not a member of registry model");
  });
});
