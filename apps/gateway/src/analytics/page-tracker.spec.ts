import { runInNewContext } from 'node:vm';
import { pageTracker } from './page-tracker';

/** Runs the script as a browser would, and returns what it asked Matomo's tracker for and what it loaded. */
function run(script: string) {
  const appended: Array<{ src: string; async: boolean }> = [];
  const window: { _paq?: unknown[][] } = {};
  const document = {
    createElement: () => ({ src: '', async: false }),
    head: { appendChild: (element: { src: string; async: boolean }) => appended.push(element) },
  };
  runInNewContext(script, { window, document });
  return { paq: window._paq, appended };
}

describe('pageTracker', () => {
  const settings = { MATOMO_URL: 'https://stats.example.org/matomo/', MATOMO_SITE_ID: 4, MATOMO_COOKIES: false };

  it('honours Do-Not-Track and sets no cookie before it tracks the page view, then loads matomo.js', () => {
    const tracker = pageTracker(settings);
    expect([tracker.scriptUrl, tracker.trackerUrl]).toEqual(['https://stats.example.org/matomo/matomo.js', 'https://stats.example.org/matomo/matomo.php']);
    const { paq, appended } = run(tracker.script);
    expect(paq).toEqual([['setDoNotTrack', true], ['disableCookies'], ['setTrackerUrl', 'https://stats.example.org/matomo/matomo.php'], ['setSiteId', '4'], ['trackPageView']]);
    expect(appended).toEqual([{ src: 'https://stats.example.org/matomo/matomo.js', async: true }]);
  });

  it("exposes for the CSP exactly the URLs its script uses, whatever MATOMO_URL looks like", () => {
    for (const MATOMO_URL of ['https://stats.example.org', 'https://example.org/matomo?x=1#y', "https://stats.example.org/a'b\"c d/"]) {
      const tracker = pageTracker({ ...settings, MATOMO_URL });
      const { paq, appended } = run(tracker.script);
      expect(paq?.find(([command]) => command === 'setTrackerUrl')).toEqual(['setTrackerUrl', tracker.trackerUrl]);
      expect(appended.map((script) => script.src)).toEqual([tracker.scriptUrl]);
      expect(tracker.scriptUrl).toMatch(/\/matomo\.js$/);
      expect(tracker.trackerUrl).toMatch(/\/matomo\.php$/);
    }
  });

  it('lets Matomo set cookies only with MATOMO_COOKIES', () => {
    const { paq } = run(pageTracker({ ...settings, MATOMO_COOKIES: true }).script);
    expect(paq?.map(([command]) => command)).toEqual(['setDoNotTrack', 'setTrackerUrl', 'setSiteId', 'trackPageView']);
  });

  it('keeps a URL a string, whatever it holds', () => {
    const { paq } = run(pageTracker({ ...settings, MATOMO_URL: "https://stats.example.org/a'b\"c/" }).script);
    expect(paq?.[2]).toEqual(['setTrackerUrl', 'https://stats.example.org/a\'b%22c/matomo.php']);
  });
});
