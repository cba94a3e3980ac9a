import type { IncomingMessage } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { OwnerSchema } from '@visp/contracts';
import type { PeerList } from '@visp/service-kit';

/** The header the SP adds to each sign-in it vouches for (containerfiles/sp/apache-sp.conf). */
export const SSO_SECRET_HEADER = 'visp-sso-secret';

export interface SsoSettings {
  SSO_PROXY_SECRET?: string;
  SHIB_USER_HEADER: string;
  SHIB_MAIL_HEADER: string;
  SHIB_NAME_HEADER: string;
  SHIB_AFFILIATION_HEADER: string;
}

export interface SsoIdentity {
  username: string;
  email?: string;
  displayName?: string;
  affiliation?: string;
}

/**
 * One value for `name`, or undefined. A header sent twice is refused rather than joined: Node folds repeats into
 * "a, b", and which of two values an SP or an edge meant is not ours to guess.
 */
function single(req: IncomingMessage, name: string): string | undefined {
  const values = req.headersDistinct[name.toLowerCase()];
  if (!values || values.length !== 1) return undefined;
  const value = values[0]?.trim();
  return value ? value : undefined;
}

/** Compared as digests, so neither the length nor a prefix of the secret shows in the time taken. */
const sameSecret = (given: string, expected: string) => timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());

/**
 * Who the SP says signed in, believed only when the request comes from a trusted proxy's address *and* carries
 * the SP's secret: an edge that forwards a client's headers, or a wrong CIDR, is not enough on its own.
 */
export function ssoIdentity(req: IncomingMessage, trusted: PeerList, settings: SsoSettings): SsoIdentity | undefined {
  const secret = single(req, SSO_SECRET_HEADER);
  if (!settings.SSO_PROXY_SECRET || !secret || !trusted.includes(req) || !sameSecret(secret, settings.SSO_PROXY_SECRET)) return undefined;
  const username = OwnerSchema.safeParse(single(req, settings.SHIB_USER_HEADER));
  if (!username.success) return undefined;
  return {
    username: username.data,
    email: single(req, settings.SHIB_MAIL_HEADER),
    displayName: single(req, settings.SHIB_NAME_HEADER),
    affiliation: single(req, settings.SHIB_AFFILIATION_HEADER),
  };
}
