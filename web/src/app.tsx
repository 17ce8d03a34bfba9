import { useQuery, useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, useState } from "react";
import { Link, Route, Switch } from "wouter";
import { api, ApiError } from "./api/client";
import { MeContext } from "./api/me";
import { v1, to } from "./api/routes";
import { currentKey, onSessionChange, signOut } from "./api/session";
import type { UserResponse } from "./api/types";
import { RoleBadge } from "./components/chips";
import { ErrorState, Loading } from "./components/states";
import { orgAbilities } from "./lib/roles";
import { RegistriesHome } from "./pages/registries-home";
import { SignIn } from "./pages/sign-in";

// The home page ships in the entry chunk; every other page loads when first opened.
const RegistryPage = lazy(() => import("./pages/registry"));
const CollectionPage = lazy(() => import("./pages/collection"));
const CollectionVersionPage = lazy(() => import("./pages/collection-version"));
const ProjectsPage = lazy(() => import("./pages/projects"));
const ArtifactPage = lazy(() => import("./pages/artifact"));
const ArtifactVersionPage = lazy(() => import("./pages/artifact-version"));
const RunPage = lazy(() => import("./pages/run"));
const AccountPage = lazy(() => import("./pages/account"));
const UsersPage = lazy(() => import("./pages/users"));

function useSessionKey(): string | null {
  const [key, setKey] = useState(currentKey);
  useEffect(() => onSessionChange(setKey), []);
  return key;
}

export function App() {
  const key = useSessionKey();
  const queryClient = useQueryClient();
  const [signedOutReason, setSignedOutReason] = useState<string | null>(null);
  useEffect(
    () =>
      onSessionChange((next) => {
        // Nothing read with one key may be shown to the next.
        if (next === null) queryClient.clear();
      }),
    [queryClient],
  );
  const me = useQuery({
    queryKey: ["me", key],
    queryFn: () => api<UserResponse>(v1.me),
    enabled: key !== null,
    staleTime: Infinity,
  });
  useEffect(() => {
    if (me.error instanceof ApiError && me.error.status === 401)
      setSignedOutReason("Your API key is no longer accepted (revoked or expired). Sign in again.");
  }, [me.error]);

  if (key === null) return <SignIn notice={signedOutReason} onSignedIn={() => setSignedOutReason(null)} />;
  if (me.isPending) return <Loading label="Signing in…" />;
  if (me.isError) {
    return (
      <main className="page">
        <ErrorState error={me.error} retry={() => void me.refetch()} />
        <button type="button" className="button" onClick={signOut}>
          Sign out
        </button>
      </main>
    );
  }
  return (
    <MeContext.Provider value={me.data}>
      <Shell me={me.data} />
    </MeContext.Provider>
  );
}

function Shell({ me }: { me: UserResponse }) {
  const abilities = orgAbilities(me.role);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <Link href={to.home} className="brand">
          mreg
        </Link>
        <nav aria-label="Main" className="main-nav">
          <Link href={to.home}>Registries</Link>
          <Link href={to.projects}>Projects</Link>
          <Link href={to.account}>API keys</Link>
          {abilities.manageUsers ? <Link href={to.users}>Users</Link> : null}
        </nav>
        <div className="who" aria-label="Signed in user">
          <span>
            Signed in as <strong data-testid="who">{me.name}</strong>
          </span>
          <RoleBadge role={me.role} label="org" />
          <button type="button" className="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" className="page" tabIndex={-1}>
        <Suspense fallback={<Loading />}>
          <Switch>
            <Route path="/" component={RegistriesHome} />
            <Route path="/registries/:registry/collections/:collection/versions/:version/:tab?" component={CollectionVersionPage} />
            <Route path="/registries/:registry/collections/:collection/:tab?" component={CollectionPage} />
            <Route path="/registries/:registry/automations/:automation" component={RegistryPage} />
            <Route path="/registries/:registry/:tab?" component={RegistryPage} />
            <Route path="/projects" component={ProjectsPage} />
            <Route path="/projects/:project" component={ProjectsPage} />
            <Route path="/projects/:project/runs/:run" component={RunPage} />
            <Route path="/projects/:project/artifacts/:artifact/versions/:version/:tab?" component={ArtifactVersionPage} />
            <Route path="/projects/:project/artifacts/:artifact" component={ArtifactPage} />
            <Route path="/account" component={AccountPage} />
            <Route path="/users" component={UsersPage} />
            <Route>
              <ErrorState error={new ApiError(404, "not_found", "There is no page at this address.")} />
            </Route>
          </Switch>
        </Suspense>
      </main>
    </>
  );
}
