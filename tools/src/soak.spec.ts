import { failuresIn, soakReport } from './soak';

describe('visp-dev soak', () => {
  it('names failed tests by file and title, and suites that did not run by file', () => {
    const results = [
      {
        testResults: [
          { name: '/tmp/c/e2e/src/a.int.spec.ts', status: 'failed', message: '', assertionResults: [{ fullName: 'a works', status: 'passed' }, { fullName: 'a holds', status: 'failed' }] },
          { name: '/tmp/c/e2e/src/b.int.spec.ts', status: 'failed', message: '\nTest suite failed to run\n  Cannot find module', assertionResults: [] },
          { name: '/tmp/c/e2e/src/c.int.spec.ts', status: 'passed', message: '', assertionResults: [{ fullName: 'c', status: 'passed' }] },
        ],
      },
    ];
    expect(failuresIn(results, '/tmp/c')).toEqual(['e2e/src/a.int.spec.ts › a holds', 'e2e/src/b.int.spec.ts (did not run: Test suite failed to run)']);
  });

  it('reports green runs, failures by test most frequent first, and durations', () => {
    const runs = [
      { run: 1, seconds: 480, summary: '524 passed, 0 failed', green: true, failures: [] },
      { run: 2, seconds: 515, summary: '523 passed, 1 failed', green: false, failures: ['x › y'] },
      { run: 3, seconds: 499, summary: '522 passed, 2 failed', green: false, failures: ['x › y', 'z › w'] },
    ];
    expect(soakReport(runs)).toBe(['runs 3, green 1', 'failures by test:', '  2× x › y', '  1× z › w', 'durations: 8m00s, 8m35s, 8m19s (median 8m19s, longest 8m35s)'].join('\n'));
    expect(soakReport(runs.slice(0, 1))).toBe(['runs 1, green 1', 'failures by test: none', 'durations: 8m00s (median 8m00s, longest 8m00s)'].join('\n'));
  });
});
