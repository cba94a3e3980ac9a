// The public edge's configuration (Caddy): what `visp install` writes and what the SSO tests run in front of the
// gateway, so that the tested edge is the deployed one.

/**
 * Request headers no client may send through the edge: the SSO attributes the gateway reads (by its default
 * names; Caddy matches names case-insensitively, as the gateway does), the SP's secret, and the forwarding headers,
 * which Caddy's reverse_proxy then sets itself from the connection (X-Forwarded-For, -Proto, -Host).
 */
export const EDGE_REMOVED_HEADERS = [
  'eppn',
  'mail',
  'displayName',
  'affiliation',
  'Remote-User',
  'Visp-Sso-Secret',
  'Forwarded',
  'X-Forwarded-For',
  'X-Forwarded-Proto',
  'X-Forwarded-Host',
  'X-Real-Ip',
] as const;

export interface EdgeOptions {
  /** Site addresses, e.g. `visp.example.org` (HTTPS) or `:80`, `http://visp.localhost:18701`. */
  sites: string[];
  /** `host:port` of the gateway. */
  gateway: string;
  /** `host:port` of the Shibboleth SP, which then gets /Shibboleth.sso/* and /auth/sso; unset in dev-key mode. */
  sp?: string;
  /** Identity header names the gateway was configured with besides the defaults (SHIB_*_HEADER). */
  extraRemovedHeaders?: readonly string[];
  /** The sites' certificate and key as Caddy reads them (paths); unset: Caddy gets one from Let's Encrypt. */
  tls?: { cert: string; key: string };
}

/** One site block: headers no client may set removed first, the SP's paths to the SP, everything else to the gateway. */
export function caddyfile(options: EdgeOptions): string {
  const removed = [...new Set([...EDGE_REMOVED_HEADERS, ...(options.extraRemovedHeaders ?? [])])];
  const lines = [`${options.sites.join(', ')} {`, ...(options.tls ? [`\ttls ${options.tls.cert} ${options.tls.key}`] : []), '\tencode zstd gzip', ...removed.map((name) => `\trequest_header -${name}`)];
  if (options.sp) {
    // Only the SP's own paths: the SP answers nothing else, and the gateway trusts only what it forwards with its secret.
    lines.push('\t@sso path /Shibboleth.sso /Shibboleth.sso/* /auth/sso /auth/sso/*', `\thandle @sso {\n\t\treverse_proxy ${options.sp}\n\t}`);
  }
  lines.push(`\thandle {\n\t\treverse_proxy ${options.gateway}\n\t}`, '}');
  return `${lines.join('\n')}\n`;
}
