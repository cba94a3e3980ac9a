import { LABEL, type Route, type SessionState } from '@visp/contracts';
import { encodeSessionLabels, type ContainerSummary } from '@visp/podman-client';
import type { SessionRecord } from '@visp/store';
import { plan, type Observation } from './plan';

const INSTANCE = 'prod';
const created = '2026-11-01T10:00:00.000Z';

function container(sid: string, state = 'running', overrides: { instance?: string; owner?: string; labels?: Record<string, string> } = {}): ContainerSummary {
  const labels = overrides.labels ?? encodeSessionLabels({ instance: overrides.instance ?? INSTANCE, id: sid, type: 'jupyter', owner: overrides.owner ?? 'ann', created });
  return { id: `c-${sid}`, name: `visp-session-jupyter-${sid}`, image: 'img', state, labels, createdAt: new Date(created) };
}

function record(sid: string, state: SessionState, instance = INSTANCE): SessionRecord {
  const at = new Date(created);
  return { sid, owner: 'ann', type: 'jupyter', instance, state, history: [{ state, at }], limits: { memoryMiB: 512, cpus: 1, pids: 256 }, createdAt: at, updatedAt: at, warm: false };
}

const route = (sid: string): Route => ({ sid, owner: 'ann', target: 'http://127.0.0.1:1', token: 'token-0123456789abcdef', stripPrefix: false, updatedAt: created });

const observe = (parts: Partial<Observation>): Observation => ({ instance: INSTANCE, containers: [], records: [], routes: [], networks: [], joiners: [], ...parts });
const summary = (o: Observation) => plan(o).map((a) => `${a.kind} ${a.kind === 'report' ? `${a.container.name}: ${a.reason}` : a.sid}`);

describe('recovery plan', () => {
  it('adopts running containers whose record is missing, over, or stuck before ready', () => {
    const o = observe({
      containers: [container('aaaaaaaaaaaa'), container('bbbbbbbbbbbb'), container('cccccccccccc'), container('dddddddddddd')],
      records: [record('bbbbbbbbbbbb', 'stopped'), record('cccccccccccc', 'failed'), record('dddddddddddd', 'starting')],
    });
    expect(summary(o)).toEqual(['adopt aaaaaaaaaaaa', 'adopt bbbbbbbbbbbb', 'adopt cccccccccccc', 'adopt dddddddddddd']);
  });

  it('republishes a missing route of a ready session, and leaves a complete one alone', () => {
    const o = observe({
      containers: [container('aaaaaaaaaaaa'), container('bbbbbbbbbbbb')],
      records: [record('aaaaaaaaaaaa', 'ready'), record('bbbbbbbbbbbb', 'ready')],
      routes: [route('bbbbbbbbbbbb')],
    });
    expect(summary(o)).toEqual(['republish-route aaaaaaaaaaaa']);
  });

  it('keeps a prepared session (the warm pool) ready without a route, and drops any route it has', () => {
    const warm = (sid: string, state: SessionState) => ({ ...record(sid, state), warm: true });
    const o = observe({
      containers: [container('aaaaaaaaaaaa'), container('bbbbbbbbbbbb')],
      records: [warm('aaaaaaaaaaaa', 'ready'), warm('bbbbbbbbbbbb', 'ready')],
      routes: [route('bbbbbbbbbbbb')],
    });
    expect(summary(o)).toEqual(['drop-route bbbbbbbbbbbb']);
  });

  it('adopts a prepared session as prepared: by its record, else by its label unless a route shows it was launched', () => {
    const labelled = (sid: string) => container(sid, 'running', { labels: encodeSessionLabels({ instance: INSTANCE, id: sid, type: 'jupyter', owner: 'ann', created, warm: true }) });
    const o = observe({
      containers: [labelled('aaaaaaaaaaaa'), labelled('bbbbbbbbbbbb'), labelled('cccccccccccc'), container('dddddddddddd')],
      // Launched since it was prepared: its record (starting, from before a crash) says it is no longer warm.
      records: [record('cccccccccccc', 'starting'), { ...record('dddddddddddd', 'starting'), warm: true }],
      routes: [route('bbbbbbbbbbbb')],
    });
    expect(plan(o).flatMap((a) => (a.kind === 'adopt' ? [`${a.sid} ${a.warm}`] : []))).toEqual(['aaaaaaaaaaaa true', 'bbbbbbbbbbbb false', 'cccccccccccc false', 'dddddddddddd true']);
  });

  it('marks sessions without a container lost, and removes exited containers and those of finished stops', () => {
    const o = observe({
      containers: [container('cccccccccccc', 'exited'), container('dddddddddddd', 'created'), container('eeeeeeeeeeee')],
      records: [record('aaaaaaaaaaaa', 'ready'), record('bbbbbbbbbbbb', 'starting'), record('cccccccccccc', 'ready'), record('eeeeeeeeeeee', 'stopping'), record('ffffffffffff', 'stopped')],
      routes: [route('aaaaaaaaaaaa')],
    });
    expect(summary(o)).toEqual([
      'remove-container cccccccccccc',
      'remove-container dddddddddddd',
      'remove-container eeeeeeeeeeee',
      'mark-lost aaaaaaaaaaaa',
      'mark-lost bbbbbbbbbbbb',
    ]);
    // Why a workload went, when the engine said it, rides along to the record's reason.
    const told = plan({ ...o, endedWhy: new Map([['aaaaaaaaaaaa', 'DeletionByTaintManager: Taint manager: deleting due to NoExecute taint']]) });
    expect(told.filter((a) => a.kind === 'mark-lost').map((a) => [a.sid, a.kind === 'mark-lost' ? a.why : ''])).toEqual([
      ['aaaaaaaaaaaa', 'DeletionByTaintManager: Taint manager: deleting due to NoExecute taint'],
      ['bbbbbbbbbbbb', undefined],
    ]);
  });

  it("drops routes nothing serves, but not another instance's, nor one about to be adopted", () => {
    const o = observe({
      containers: [container('aaaaaaaaaaaa')],
      records: [record('bbbbbbbbbbbb', 'stopped'), record('cccccccccccc', 'ready', 'other')],
      routes: [route('aaaaaaaaaaaa'), route('bbbbbbbbbbbb'), route('cccccccccccc'), route('dddddddddddd')],
    });
    expect(summary(o)).toEqual(['adopt aaaaaaaaaaaa', 'drop-route bbbbbbbbbbbb', 'drop-route dddddddddddd']);
  });

  it("removes a session's own network when its container is gone, and leaves it to mark-lost and remove-container when they run", () => {
    const net = (sid: string) => ({ name: `visp-session-net-${sid}`, sid, members: [] });
    const o = observe({
      containers: [container('aaaaaaaaaaaa'), container('bbbbbbbbbbbb', 'exited')],
      records: [record('aaaaaaaaaaaa', 'ready'), record('cccccccccccc', 'ready'), record('dddddddddddd', 'stopped')],
      routes: [route('aaaaaaaaaaaa')],
      networks: [net('aaaaaaaaaaaa'), net('bbbbbbbbbbbb'), net('cccccccccccc'), net('dddddddddddd'), net('eeeeeeeeeeee')],
    });
    expect(summary(o)).toEqual(['remove-container bbbbbbbbbbbb', 'mark-lost cccccccccccc', 'remove-network dddddddddddd', 'remove-network eeeeeeeeeeee']);
  });

  it("joins a service missing from a live session's network (a restarted gateway), and only there", () => {
    const net = (sid: string, members: string[]) => ({ name: `visp-session-net-${sid}`, sid, members });
    const o = observe({
      containers: [container('aaaaaaaaaaaa'), container('bbbbbbbbbbbb'), container('cccccccccccc', 'exited')],
      records: [record('aaaaaaaaaaaa', 'ready'), record('bbbbbbbbbbbb', 'ready'), record('cccccccccccc', 'ready')],
      routes: [route('aaaaaaaaaaaa'), route('bbbbbbbbbbbb'), route('cccccccccccc')],
      networks: [net('aaaaaaaaaaaa', ['visp-session-jupyter-aaaaaaaaaaaa', 'visp-gateway', 'visp-recovery']), net('bbbbbbbbbbbb', ['visp-recovery']), net('cccccccccccc', []), net('dddddddddddd', [])],
      joiners: ['visp-gateway', 'visp-recovery'],
    });
    const joins = plan(o).flatMap((a) => (a.kind === 'join-network' ? [`${a.container} -> ${a.network}`] : []));
    // Not to the network of a container being removed, nor to one whose container is gone (it is removed).
    expect(joins).toEqual(['visp-gateway -> visp-session-net-bbbbbbbbbbbb']);
    expect(summary(o)).toEqual(['remove-container cccccccccccc', 'join-network bbbbbbbbbbbb', 'remove-network dddddddddddd']);
  });

  it('reports malformed, foreign and contradictory containers and leaves them alone', () => {
    const good = encodeSessionLabels({ instance: INSTANCE, id: 'aaaaaaaaaaaa', type: 'jupyter', owner: 'ann', created });
    const o = observe({
      containers: [
        container('aaaaaaaaaaaa', 'running', { labels: { ...good, [LABEL.owner]: '' } }),
        container('bbbbbbbbbbbb', 'running', { labels: { ...good, [LABEL.schema]: '99' } }),
        container('cccccccccccc', 'running', { instance: 'someone-else' }),
        container('dddddddddddd', 'running', { owner: 'mallory' }),
        container('eeeeeeeeeeee', 'running', { labels: { [LABEL.managed]: 'true' } }),
      ],
      records: [record('dddddddddddd', 'ready')],
      routes: [route('dddddddddddd')],
    });
    const actions = plan(o);
    expect(actions.every((a) => a.kind === 'report')).toBe(true);
    expect(summary(o)).toEqual([
      `report visp-session-jupyter-aaaaaaaaaaaa: ${LABEL.owner}: Too small: expected string to have >=1 characters`,
      'report visp-session-jupyter-bbbbbbbbbbbb: unsupported label schema "99"',
      'report visp-session-jupyter-cccccccccccc: belongs to instance someone-else',
      'report visp-session-jupyter-dddddddddddd: labels say owner mallory, the record says ann',
      'report visp-session-jupyter-eeeeeeeeeeee: unsupported label schema null',
    ]);
  });
});
