// Usage analytics for VISP sites that run Matomo: off unless MATOMO_URL and MATOMO_SITE_ID are both set.
import type { Registry } from 'prom-client';
import { matomoFile, trackingParameters } from './matomo';
import { pageTracker, type PageTracker } from './page-tracker';
import { ProductEvents, type ProductEventDeps } from './product-events';
import { MatomoReporter, type ReporterOptions } from './reporter';

export interface AnalyticsSettings {
  AUTH_MODE: 'dev-key' | 'shibboleth';
  COOKIE_SECRET: string;
  MATOMO_URL?: string;
  MATOMO_SITE_ID?: number;
  MATOMO_COOKIES: boolean;
  MATOMO_USER_IDS: boolean;
}

/** Hosts a plain-http MATOMO_URL may name: this machine only (a stand-in Matomo in tests). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Why these settings cannot start, for main.ts to refuse with; undefined when they can. MATOMO_URL must be https
 * (its `matomo.js` runs on the gateway's origin: whoever could change it in transit would act as the user), except on loopback.
 */
export function matomoSettingsProblem(settings: Pick<AnalyticsSettings, 'MATOMO_URL' | 'MATOMO_SITE_ID'>): string | undefined {
  if ((settings.MATOMO_URL === undefined) !== (settings.MATOMO_SITE_ID === undefined)) {
    return 'MATOMO_URL and MATOMO_SITE_ID go together: set both to report to Matomo, or neither';
  }
  if (settings.MATOMO_URL === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(settings.MATOMO_URL);
  } catch {
    return 'MATOMO_URL is not a URL';
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) return undefined;
  return "MATOMO_URL must be https (Matomo's matomo.js runs on the gateway's origin); plain http only for 127.0.0.1, ::1 or localhost";
}

export interface Analytics {
  /** For the start page: `/analytics.js` and its CSP. */
  readonly page: PageTracker;
  /** A user signed in (the gateway that signed them in calls this, so it is reported once). */
  signedIn(username: string): void;
  /** Starts listening to the bus for sessions and transcriptions. */
  start(): Promise<void>;
  countIn(registry: Registry): void;
  close(): Promise<void>;
}

export interface AnalyticsDeps extends Omit<ProductEventDeps, 'report'> {
  /** For tests: how the reporter sends, times out and queues. */
  reporter?: ReporterOptions;
}

/** Matomo's page tracker and the gateway's product events, or undefined when Matomo is not configured. */
export function matomoAnalytics(settings: AnalyticsSettings, deps: AnalyticsDeps): Analytics | undefined {
  const { MATOMO_URL, MATOMO_SITE_ID } = settings;
  if (MATOMO_URL === undefined || MATOMO_SITE_ID === undefined) return undefined;
  const reporter = new MatomoReporter(matomoFile(MATOMO_URL, 'matomo.php'), deps.logger, deps.reporter);
  const site = { siteId: MATOMO_SITE_ID, visitorKey: settings.COOKIE_SECRET, userIds: settings.MATOMO_USER_IDS };
  const product = new ProductEvents({ ...deps, report: (event) => reporter.send(trackingParameters(site, event)) });
  let closing: Promise<void> | undefined;
  return {
    page: pageTracker({ MATOMO_URL, MATOMO_SITE_ID, MATOMO_COOKIES: settings.MATOMO_COOKIES }),
    signedIn: (username) => product.signedIn(username, settings.AUTH_MODE),
    start: () => product.start(),
    countIn: (registry) => reporter.countIn(registry),
    close: () => (closing ??= product.close().then(() => reporter.close())),
  };
}
