/**
 * What the app's pages may do, sent with index.html by the local server (local/web-assets.ts)
 * and by CloudFront (infra/constructs/web-app.ts): scripts and API calls to this origin only,
 * no frames, no plugins. Images may come from https (markdown descriptions link them).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: https:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Where a browser may fetch from the app: every hashed file lives under this path. */
export const HASHED_ASSETS_PREFIX = "/assets/";
