import { Link, useLocation } from "wouter";

/** Sections of a page as links (each has its own URL): keyboard-usable as plain links. */
export function TabNav({ label, tabs }: { label: string; tabs: { href: string; label: string; exact?: boolean }[] }) {
  const [location] = useLocation();
  return (
    <nav className="tabs" aria-label={label}>
      {tabs.map((tab) => {
        const current = tab.exact ? location === tab.href : location === tab.href || location.startsWith(`${tab.href}/`);
        return (
          <Link
            key={tab.href}
            href={tab.href}
            className={`tab${current ? " tab-current" : ""}`}
            aria-current={current ? "page" : undefined}
          >
            {tab.label}
          </Link>
        );
      })}
    </nav>
  );
}
