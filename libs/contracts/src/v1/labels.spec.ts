import { ACTIVE_SESSION_STATES, FINAL_SESSION_STATES, LABEL, LABEL_SCHEMA_VERSION, SESSION_STATES } from '../index';

describe('label names', () => {
  // The wire format: running containers carry these names, and recovery rebuilds sessions from them after a
  // restart. Everything else reads them from LABEL, so this is the one place that pins them.
  it('are the names containers and pods already carry', () => {
    expect(LABEL).toEqual({
      managed: 'visp.managed',
      instance: 'visp.instance',
      schema: 'visp.schema',
      sessionId: 'visp.session.id',
      sessionType: 'visp.session.type',
      owner: 'visp.session.owner',
      project: 'visp.session.project',
      created: 'visp.session.created',
      warm: 'visp.session.warm',
      limits: 'visp.session.limits',
      buildHash: 'visp.build-hash',
    });
    expect(LABEL_SCHEMA_VERSION).toBe('1');
  });
});

describe('session state groups', () => {
  it('split the states into active and final, each state in one', () => {
    expect([...ACTIVE_SESSION_STATES, ...FINAL_SESSION_STATES].sort()).toEqual([...SESSION_STATES].sort());
  });
});
