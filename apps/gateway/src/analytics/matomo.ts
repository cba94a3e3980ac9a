// What the gateway sends to Matomo's HTTP Tracking API (https://developer.matomo.org/api-reference/tracking-api),
// built as plain values so that the parameters can be checked without a server.
import { createHmac, randomBytes } from 'node:crypto';

/**
 * The Tracking API parameters the gateway uses, each as Matomo's reference names it; the builder below can set no
 * other, so none is made up. `cip`, `cdt`, `token_auth` and the geolocation overrides are not among them: the
 * gateway sends neither users' addresses nor past times, so it needs no token.
 */
export type TrackingParameter =
  /** Required: the site, and `rec=1` to record the request. */
  | 'idsite'
  | 'rec'
  /** Recommended: API version (always 1) and a random value against caches. */
  | 'apiv'
  | 'rand'
  /** The visitor: `_id` (16 hex characters), `cid` to make Matomo keep to it, `uid` (the User ID) only on opt-in. */
  | '_id'
  | 'cid'
  | 'uid'
  /** Overrides the User-Agent header: these are the gateway's reports, not a browser's. */
  | 'ua'
  /** Event category, action, name and numeric value. */
  | 'e_c'
  | 'e_a'
  | 'e_n'
  | 'e_v'
  /** `0`: answer 204 rather than a GIF. */
  | 'send_image';

/** The user agent the gateway's reports carry, so Matomo's reports show them apart from browsers. */
export const REPORTER_USER_AGENT = 'VISP-gateway';

/** One product event: `category`/`action` are Matomo's event category and action, `name` its name. */
export interface ProductEvent {
  category: 'user' | 'session' | 'transcription';
  action: string;
  /** The session type, transcription backend or sign-in method: never anything a user typed. */
  name?: string;
  /** A number that belongs with the event: a start-up or recording length in seconds. */
  value?: number;
  /** Whose event it was; sent only as `_id`/`cid` unless the operator opted into User IDs. */
  username: string;
}

export interface MatomoSite {
  siteId: number;
  /** Keys the visitor id (COOKIE_SECRET): without it, nobody can tell which name an id belongs to by hashing names. */
  visitorKey: string;
  /** MATOMO_USER_IDS: also send the user name as `uid`. */
  userIds: boolean;
}

/**
 * The visitor id Matomo sees for `username`: the first 16 hex characters of an HMAC-SHA256, so the same user is
 * always the same visitor, and a name cannot be recovered or confirmed without the key.
 */
export function visitorId(key: string, username: string): string {
  return createHmac('sha256', key).update(`matomo-visitor\0${username}`).digest('hex').slice(0, 16);
}

/** The body of one tracking request for `event`, in the order the reference lists the parameters. */
export function trackingParameters(site: MatomoSite, event: ProductEvent, rand = randomBytes(6).toString('hex')): URLSearchParams {
  const visitor = visitorId(site.visitorKey, event.username);
  const entries: Array<[TrackingParameter, string | undefined]> = [
    ['idsite', String(site.siteId)],
    ['rec', '1'],
    ['apiv', '1'],
    ['rand', rand],
    ['_id', visitor],
    // Every report comes from the gateway's one address and user agent: without a forced visitor id, Matomo
    // could fold different users' events into one visit by that fingerprint.
    ['cid', visitor],
    ['uid', site.userIds ? event.username : undefined],
    ['ua', REPORTER_USER_AGENT],
    ['e_c', event.category],
    ['e_a', event.action],
    ['e_n', event.name],
    ['e_v', event.value === undefined || !Number.isFinite(event.value) ? undefined : String(Math.round(event.value))],
    ['send_image', '0'],
  ];
  return new URLSearchParams(entries.filter((entry): entry is [TrackingParameter, string] => entry[1] !== undefined && entry[1] !== ''));
}

/** `<MATOMO_URL>/<file>`, whether MATOMO_URL ends in a slash or not (Matomo may live below a path). */
export function matomoFile(matomoUrl: string, file: 'matomo.php' | 'matomo.js'): URL {
  const base = new URL(matomoUrl);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  base.search = '';
  base.hash = '';
  return new URL(file, base);
}
