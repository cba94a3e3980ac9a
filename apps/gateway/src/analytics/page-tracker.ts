import { matomoFile } from './matomo';

/** Matomo's page tracker for the start page: its settings script, and the two URLs the page's CSP must allow. */
export interface PageTracker {
  /** `<MATOMO_URL>/matomo.js`, which the script loads: the one script the page may load from Matomo. */
  scriptUrl: string;
  /** `<MATOMO_URL>/matomo.php`, which the script sets as its tracker URL: where page views go (beacon, XHR or image). */
  trackerUrl: string;
  /** What `/analytics.js` answers: `_paq` set up, then `matomo.js` loaded. */
  script: string;
}

export interface PageTrackerSettings {
  MATOMO_URL: string;
  MATOMO_SITE_ID: number;
  MATOMO_COOKIES: boolean;
}

/**
 * Matomo's standard tracking code, as a file rather than inline (the page's CSP has no 'unsafe-inline'). Do-Not-Track
 * is honoured (`setDoNotTrack`, before anything is sent) and, unless MATOMO_COOKIES, no cookie is set
 * (`disableCookies`); both must come before `trackPageView`. Values are JSON-encoded: never code.
 */
export function pageTracker(settings: PageTrackerSettings): PageTracker {
  const [trackerUrl, scriptUrl] = [matomoFile(settings.MATOMO_URL, 'matomo.php'), matomoFile(settings.MATOMO_URL, 'matomo.js')];
  const push = (...args: unknown[]) => `_paq.push(${JSON.stringify(args)});`;
  const lines = [
    '// Matomo, as the gateway is configured (MATOMO_URL, MATOMO_SITE_ID, MATOMO_COOKIES).',
    'var _paq = (window._paq = window._paq || []);',
    push('setDoNotTrack', true),
    ...(settings.MATOMO_COOKIES ? [] : [push('disableCookies')]),
    push('setTrackerUrl', trackerUrl.href),
    push('setSiteId', String(settings.MATOMO_SITE_ID)),
    push('trackPageView'),
    '(function () {',
    "  var script = document.createElement('script');",
    '  script.async = true;',
    `  script.src = ${JSON.stringify(scriptUrl.href)};`,
    '  document.head.appendChild(script);',
    '})();',
    '',
  ];
  return { scriptUrl: scriptUrl.href, trackerUrl: trackerUrl.href, script: lines.join('\n') };
}
