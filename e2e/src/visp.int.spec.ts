// VISP's webclient, unchanged, against the real gateway, session-manager and Podman: a client that behaves
// exactly like VISP's (e2e/src/visp-client.ts) runs the client's real sequence — handshake, fetchProjects, launch
// in a project, the project's files in the session through app.<host>, the live session in fetchProjects, close;
// and a bundle of the project's emuDB transcribed by a real whisper-worker, its queue polled, its transcript read —
// once with the projects in the product's own store and once in VISP's own MongoDB collections (a fixture with
// VISP's document shapes), as a VISP site switching over keeps them.
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { STOP_REASONS, type VispTranscriptionItem } from '@visp/contracts';
import { librivoxClips, testMongoUri, waitFor, wordErrorRate } from '@visp/testing';
import { TEST_SECRETS } from './launch';
import { loopbackRequest } from './loopback-http';
import { useGatewayStack } from './gateway-stack';
import { signInOnSite, VispClient, type VispFrame } from './visp-client';
import { seedProjects } from './visp-projects';
import { WebclientClient } from './webclient-client';

const SITE = 'visp.test';
const APP = `app.${SITE}`;
const ALICE = 'alice@uni.se';
const BOB = 'bob@uni.se';
/** Signed in, but not on the access list. */
const CARL = 'carl@uni.se';
const ADMIN = 'admin@uni.se';

const PROJECT_FILE = 'hello.txt';

/** Project `id` in VISP's layout, `<repositories>/<project id>`, mounted at `<home>/project` in its sessions. */
function project(repositories: string, id: string): void {
  const dir = path.join(repositories, id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, PROJECT_FILE), `the files of project ${id}\n`);
  // The session runs as an unprivileged user: it must read and write the project as VISP's sessions did.
  chmodSync(repositories, 0o755);
  chmodSync(dir, 0o777);
  chmodSync(path.join(dir, PROJECT_FILE), 0o666);
}

const signIn = (port: number, username: string) => signInOnSite(port, SITE, username, TEST_SECRETS.TEST_USER_LOGIN_KEY);

const frameOf = (frames: VispFrame[]) => frames.map((f) => [f.progress, f.result, f.message]);

interface Variant {
  db: string;
  ports: { sessionManager: number; gateway: number; worker: number };
  env: () => Record<string, string>;
  /** Puts project p1 (alice analyzer, bob member) where the gateway reads projects. */
  seed(): Promise<void>;
  /** VISP's username of alice: VISP's own for its database, the sign-in name in the product's store. */
  alice: string;
  bob: string;
  /** VISP's own database only: changes one document there, as VISP's pages do, behind the gateway's back. */
  editInVisp?(collection: 'users' | 'projects', filter: object, set: object): Promise<void>;
  /** VISP's own database only: adds documents there, as VISP's session-manager wrote them before the switch. */
  insertInVisp?(collection: 'transcriptionqueueitems', docs: object[]): Promise<void>;
}

function vispSequence(name: string, variant: Variant): void {
  describe(name, () => {
    // Each variant's own: what one writes in a project, the other must not find.
    const repositories = mkdtempSync(path.join(tmpdir(), 'visp-e2e-repositories-'));
    afterAll(() => rmSync(repositories, { recursive: true, force: true }));
    const stack = useGatewayStack(
      variant.ports,
      variant.db,
      // Who may keep a session is rechecked every second here (30 s by default).
      { APP_HOSTS: APP, COOKIE_DOMAIN: SITE, VISP_WEBCLIENT: 'true', ACCESS_LIST_ENABLED: 'true', ADMIN_USERS: ADMIN, PROJECT_REPOSITORIES_DIR: repositories, ACCESS_RECHECK_INTERVAL: '1', ...variant.env() },
      { sessionManagerEnv: { PROJECT_REPOSITORIES_DIR: repositories } },
    );
    const port = variant.ports.gateway;
    const app = (pathAndQuery: string, cookie: string, init: { method?: string; body?: string } = {}) =>
      // A write carries the app host's Origin, as the session's own page sends it (a script of another origin is refused).
      loopbackRequest(`http://${APP}${pathAndQuery}`, { port, method: init.method, body: init.body, headers: [['Cookie', cookie], ...(init.body ? ([['Content-Type', 'application/json'], ['Origin', `http://${APP}`]] as Array<[string, string]>) : [])] });
    let alice: VispClient;
    let bob: VispClient;
    let aliceCookie: string;
    let bobCookie: string;
    beforeAll(async () => {
      project(repositories, 'p1');
      await variant.seed();
      [aliceCookie, bobCookie] = [await signIn(port, ALICE), await signIn(port, BOB)];
      [alice, bob] = [await VispClient.open(port, SITE, aliceCookie), await VispClient.open(port, SITE, bobCookie)];
    }, 60_000);
    afterAll(() => {
      alice?.close();
      bob?.close();
    });

    it('runs the handshake as VISP does: who is signed in, authenticated, authorized', async () => {
      // The client sends these three at once, getSession with the PHPSESSID it read; identity is the sign-in's.
      const [session, authenticated, notifications] = await Promise.all([alice.send({ cmd: 'getSession', data: { phpSessId: 'not-a-thing' } }), alice.send({ cmd: 'authenticateUser', data: { username: 'mallory' } }), alice.send({ cmd: 'fetchNotifications', data: { limit: 12 } })]);
      expect(session).toMatchObject({ cmd: 'getSession', result: true, data: { username: variant.alice, eppn: ALICE, fullName: expect.any(String) } });
      expect(session.type).toBeUndefined(); // family A
      expect(authenticated.data).toEqual({ result: 200, msg: 'Authenticated' });
      expect(notifications.data).toEqual({ result: 200, notifications: [] });
      expect((await alice.send({ cmd: 'authorizeUser', data: {} })).data).toEqual({ result: 200, msg: 'Authorized' });
      // Signed out, VISP's client sends the browser to /DS/Login: the gateway's own sign-in (the page's, in dev-key mode).
      const login = await loopbackRequest(`http://${SITE}/DS/Login`, { port });
      expect([login.status, login.headers.location]).toEqual([303, '/']);
    });

    it('lists the projects, launches in one, shows its files through app.<host>, lists the live session, and closes it', async () => {
      const listed = await alice.send({ cmd: 'fetchProjects' });
      expect(listed).toMatchObject({ message: null, result: true, data: { result: 200, projects: [{ id: 'p1', liveAppSessions: [] }] } });
      const members = (listed.data as { projects: Array<{ members: Array<{ username: string; eppn: string; role: string }> }> }).projects[0]?.members;
      expect(members).toEqual(expect.arrayContaining([expect.objectContaining({ username: variant.alice, eppn: ALICE, role: 'analyzer' })]));

      const frames = await alice.follow({ cmd: 'launchContainerSession', projectId: 'p1', appName: 'jupyter' });
      expect(frames.every((f) => f.type === 'cmd-result' && f.result === true)).toBe(true);
      // eslint-disable-next-line visp/contract-literals -- VISP's texts as its client shows them, stated here on their own
      expect(frameOf(frames).slice(0, -1)).toEqual(['Pre-flight', 'Pre-flight complete', 'Creating session', 'Launching', 'Session ready'].map((text) => ['update', true, text]));
      const code = frames.at(-1)?.message ?? '';
      expect(code).toMatch(/^[a-z2-7]{12}$/);

      // The iframe's first request, then Jupyter's contents API with the cookie it set: the project's files, writable.
      const entered = await app(`/?token=${code}`, aliceCookie);
      expect([entered.status, entered.headers['set-cookie']]).toEqual([303, [`SessionAccessCode=${code}; Path=/; HttpOnly; SameSite=Lax`]]);
      const inSession = `${aliceCookie}; SessionAccessCode=${code}`;
      const listing = await app('/api/contents/project', inSession);
      expect(listing.status).toBe(200);
      expect((JSON.parse(listing.body) as { content: Array<{ name: string }> }).content.map((f) => f.name)).toContain(PROJECT_FILE);
      const written = await app('/api/contents/project/from-the-session.txt', inSession, { method: 'PUT', body: JSON.stringify({ type: 'file', format: 'text', content: 'written in the session' }) });
      expect(written.status).toBe(201);
      expect(readFileSync(path.join(repositories, 'p1', 'from-the-session.txt'), 'utf8')).toBe('written in the session');

      // The live session in the project list; the same launch again answers with it at once.
      const live = await alice.send({ cmd: 'fetchProjects' });
      expect((live.data as { projects: Array<{ liveAppSessions: unknown[] }> }).projects[0]?.liveAppSessions).toEqual([{ projectId: 'p1', username: variant.alice, type: 'jupyter', sessionAccessCode: code }]);
      expect(frameOf(await alice.follow({ cmd: 'launchContainerSession', projectId: 'p1', appName: 'jupyter' }))).toEqual([['end', true, code]]);
      // Bob, a plain member, sees it without its code.
      const seenByBob = await bob.send({ cmd: 'fetchProjects' });
      expect((seenByBob.data as { projects: Array<{ liveAppSessions: unknown[] }> }).projects[0]?.liveAppSessions).toEqual([{ projectId: 'p1', username: variant.alice, type: 'jupyter', sessionAccessCode: '' }]);

      // Bob can neither close it nor reach it, and may not start a session in the project by any door.
      expect(frameOf([await bob.send({ cmd: 'closeSession', sessionAccessCode: code })])).toEqual([['end', false, 'Error - you are not the owner of this session']]);
      expect((await app('/api/contents/project', `${bobCookie}; SessionAccessCode=${code}`)).status).toBe(404);
      expect(frameOf(await bob.follow({ cmd: 'launchContainerSession', projectId: 'p1', appName: 'jupyter' }))).toEqual([['end', false, 'Error - user is not authorized']]);
      const rest = await loopbackRequest(`http://${SITE}/api/v1/sessions`, { port, method: 'POST', headers: [['Cookie', bobCookie], ['Origin', `http://${SITE}`], ['Content-Type', 'application/json']], body: JSON.stringify({ type: 'jupyter', project: 'p1' }) });
      expect([rest.status, (JSON.parse(rest.body) as { error: { code: string } }).error.code]).toEqual([403, 'forbidden']);

      expect(frameOf([await alice.send({ cmd: 'closeSession', sessionAccessCode: code })])).toEqual([['end', true, 'Session deleted']]);
      expect(frameOf([await alice.send({ cmd: 'closeSession', sessionAccessCode: code })])).toEqual([['end', false, 'Error - no such session']]);
      const after = await alice.send({ cmd: 'fetchProjects' });
      expect((after.data as { projects: Array<{ liveAppSessions: unknown[] }> }).projects[0]?.liveAppSessions).toEqual([]);
    }, 180_000);

    it("denies a user the access list does not allow with VISP's frame, and every command after but who they are; and every other door", async () => {
      const carlCookie = await signIn(port, CARL);
      const carl = await VispClient.open(port, SITE, carlCookie);
      const ours = await WebclientClient.open(port, { cookie: carlCookie });
      try {
        // Not on the list, carl starts nothing by REST or by our own socket either, in a project or not.
        const site = (route: string, body: unknown) => loopbackRequest(`http://${SITE}${route}`, { port, method: 'POST', headers: [['Cookie', carlCookie], ['Origin', `http://${SITE}`], ['Content-Type', 'application/json']], body: JSON.stringify(body) });
        for (const body of [{ type: 'jupyter' }, { type: 'jupyter', project: 'p1' }]) {
          const rest = await site('/api/v1/sessions', body);
          expect([rest.status, (JSON.parse(rest.body) as { error: { code: string } }).error.code]).toEqual([403, 'forbidden']);
        }
        ours.send({ type: 'cmd', cmd: 'launchSession', requestId: 'carl', data: { type: 'jupyter' } });
        expect(await ours.final('carl')).toMatchObject({ progress: 'error', result: false, data: { code: 'forbidden' } });
        const denial = { result: true, message: 'You are not authorized to use this functionality', data: { result: 400, msg: 'You are not authorized to use this functionality' } };
        expect(await carl.send({ cmd: 'authorizeUser', data: {} })).toMatchObject(denial);
        expect(await carl.send({ cmd: 'fetchProjects' })).toMatchObject(denial);
        expect(await carl.send({ cmd: 'launchContainerSession', projectId: 'p1', appName: 'jupyter' })).toMatchObject(denial);
        expect(await carl.send({ cmd: 'getSession', data: {} })).toMatchObject({ result: true, data: { eppn: CARL } });
      } finally {
        carl.close();
        ours.close();
      }
    });

    it("transcribes a bundle of the project's emuDB: queued, polled until complete, its transcript beside it and fetched; a plain member refused; asked again, redone", async () => {
      await stack.startWorker(variant.ports.worker, { WORKER_CONCURRENCY: '1' });
      // VISP's layout: <repositories>/<project>/Data/VISP_emuDB/<session>_ses/<bundle sans extension>_bndl/<bundle>.
      const clip = librivoxClips()[0]!;
      const bundleDir = path.join(repositories, 'p1', 'Data', 'VISP_emuDB', 'Session 1_ses', 'clip_bndl');
      mkdirSync(bundleDir, { recursive: true });
      copyFileSync(clip.wav, path.join(bundleDir, 'clip.wav'));
      const bundle = { project: 'p1', session: 'Session 1', bundle: 'clip.wav' };
      const asked = { ...bundle, language: 'English', model: 'whisper' };
      const queue = async () => (await alice.send({ cmd: 'fetchTranscriptionQueueItems', data: { project: 'p1' } })) as { data: VispTranscriptionItem[] } & Record<string, unknown>;
      const item = async () => (await queue()).data.find((i) => i.session === bundle.session && i.bundle === bundle.bundle);
      // The client polls every 5 s; a test has no time for that.
      const finished = (notId?: string) => waitFor('the bundle to be transcribed', async () => {
        const found = await item();
        return found && found.id !== notId && (found.status === 'complete' || found.status === 'error') ? found : undefined;
      }, 120_000, 500);

      // Bob, a plain member of p1, may neither transcribe nor see the queue.
      expect(frameOf([await bob.send({ cmd: 'transcribe', data: asked })])).toEqual([['end', false, 'User does not have access to this project']]);
      expect(frameOf([await bob.send({ cmd: 'fetchTranscriptionQueueItems', data: { project: 'p1' } })])).toEqual([['end', false, 'User does not have the right access to this project to manage transcriptions.']]);
      expect(frameOf([await alice.send({ cmd: 'transcribe', data: { ...asked, project: 'nope' } })])).toEqual([['end', false, 'Project does not exist']]);
      expect(frameOf([await alice.send({ cmd: 'fetchTranscription', data: bundle })])).toEqual([['end', false, 'File does not exist in the transcription queue']]);

      // Asked twice at once (a double click, two members): one job, and the other request is told so.
      const both = await Promise.all([alice.send({ cmd: 'transcribe', data: asked }), alice.send({ cmd: 'transcribe', data: asked })]);
      expect(both.map((f) => [f.type, f.progress, f.result, f.message]).sort()).toEqual([
        ['cmd-result', 'end', true, ''],
        ['cmd-result', 'end', true, 'The file is already in the transcription queue.'],
      ]);
      // Asked again while it waits or runs: no second job.
      expect(await alice.send({ cmd: 'transcribe', data: asked })).toMatchObject({ result: true, message: 'The file is already in the transcription queue.' });
      const listed = await queue();
      expect(listed).toMatchObject({ type: 'cmd-result', progress: 'end', result: true });
      expect(listed.data.filter((i) => i.bundle === bundle.bundle)).toEqual([
        expect.objectContaining({ project: 'p1', session: 'Session 1', bundle: 'clip.wav', initiatedByUser: ALICE, language: 'English', model: 'whisper', status: expect.stringMatching(/^(queued|running|complete)$/), error: '' }),
      ]);

      const done = await finished();
      expect(done).toMatchObject({ status: 'complete', queuePosition: -1, finishedAt: expect.any(String) });
      const fetched = await alice.send({ cmd: 'fetchTranscription', data: bundle });
      expect(fetched).toMatchObject({ type: 'cmd-result', progress: 'end', result: true });
      const { srt, text } = fetched.data as { srt: string; text: string };
      expect(srt).toMatch(/^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n/);
      expect(wordErrorRate([{ reference: clip.reference, hypothesis: text }])).toBeLessThanOrEqual(0.25);
      // Beside the bundle, as VISP wrote them, and what fetchTranscription read.
      expect(readFileSync(path.join(bundleDir, 'transcription.srt'), 'utf8')).toBe(srt);
      expect(readFileSync(path.join(bundleDir, 'transcription.txt'), 'utf8')).toBe(text);

      // Asked again once finished: done again, from the bundle as it is now, and written back again.
      writeFileSync(path.join(bundleDir, 'transcription.txt'), 'stale');
      expect(frameOf([await alice.send({ cmd: 'transcribe', data: asked })])).toEqual([['end', true, 'Re-doing transcription of file.']]);
      const redone = await finished(done.id);
      expect(redone).toMatchObject({ status: 'complete' });
      await waitFor('the transcript written again', () => readFileSync(path.join(bundleDir, 'transcription.txt'), 'utf8') !== 'stale', 10_000);
      expect(readFileSync(path.join(bundleDir, 'transcription.txt'), 'utf8')).toBe(text);
      // A completed item stays in the queue when taken off it, as VISP's did.
      expect(frameOf([await alice.send({ cmd: 'removeTranscriptionFromQueue', data: bundle })])).toEqual([['end', true, '']]);
      expect(await item()).toMatchObject({ id: redone.id, status: 'complete' });
      expect(existsSync(path.join(bundleDir, 'transcription.srt'))).toBe(true);
    }, 300_000);

    // Only where the product keeps the projects: its administrators change membership here.
    if (variant.alice === ALICE) {
      it("stops a member's open session in a project once they may no longer work in it", async () => {
        const admin = await signIn(port, ADMIN);
        const setRole = (role: string) =>
          loopbackRequest(`http://${SITE}/api/v1/admin/projects/p1/members/${ALICE}`, { port, method: 'PUT', headers: [['Cookie', admin], ['Origin', `http://${SITE}`], ['Content-Type', 'application/json']], body: JSON.stringify({ role }) });
        const frames = await alice.follow({ cmd: 'launchContainerSession', projectId: 'p1', appName: 'jupyter' });
        const code = String(frames.at(-1)?.message);
        expect((await setRole('member')).status).toBe(200);
        const state = await loopbackRequest(`http://${SITE}/api/v1/sessions/${code}`, { port, headers: [['Cookie', aliceCookie]] });
        expect(['stopping', 'stopped']).toContain((JSON.parse(state.body) as { state: string }).state);
        expect(frameOf(await alice.follow({ cmd: 'launchContainerSession', projectId: 'p1', appName: 'jupyter' }))).toEqual([['end', false, 'Error - user is not authorized']]);
        expect((await setRole('analyzer')).status).toBe(200);
      }, 120_000);
    }

    // Only where VISP's own pages change the projects and users: the gateway is not told, and looks again.
    const { editInVisp } = variant;
    if (editInVisp) {
      const sessionView = async (code: string) => JSON.parse((await loopbackRequest(`http://${SITE}/api/v1/sessions/${code}`, { port, headers: [['Cookie', aliceCookie]] })).body) as { state: string; reason?: string };
      const sessionState = async (code: string) => (await sessionView(code)).state;
      // Stopped, and her page says why.
      const ended = async (code: string) => {
        await waitFor(`session ${code} to be stopped`, async () => ['stopping', 'stopped'].includes(await sessionState(code)), 30_000, 250);
        expect((await sessionView(code)).reason).toBe(STOP_REASONS['access-revoked']);
      };

      it("stops a member's open session once VISP's database says she may no longer work in the project, or use the site", async () => {
        const launch = async () => String((await alice.follow({ cmd: 'launchContainerSession', projectId: 'p1', appName: 'jupyter' })).at(-1)?.message);
        const inProject = await launch();
        const withAliceAs = (role: string) => ({ members: [{ username: variant.alice, role }, { username: variant.bob, role: 'member' }] });
        await editInVisp('projects', { id: 'p1' }, withAliceAs('member'));
        await ended(inProject);
        expect(frameOf(await alice.follow({ cmd: 'launchContainerSession', projectId: 'p1', appName: 'jupyter' }))).toEqual([['end', false, 'Error - user is not authorized']]);

        await editInVisp('projects', { id: 'p1' }, withAliceAs('analyzer'));
        const again = await launch();
        expect(await sessionState(again)).toBe('ready');
        await editInVisp('users', { username: variant.alice }, { loginAllowed: false });
        await ended(again);
        await editInVisp('users', { username: variant.alice }, { loginAllowed: true });
        // Her record is read again within DirectoryUsers' 10 s: the tests after this one need her allowed.
        await waitFor('alice to be allowed again', async () => (await alice.send({ cmd: 'authorizeUser', data: {} })).message !== 'You are not authorized to use this functionality', 20_000, 500);
      }, 180_000);
    }

    // Only where VISP's own session-manager kept a transcription queue: its database.
    const { insertInVisp } = variant;
    if (insertInVisp) {
      // Runs after the transcription case, whose whisper-worker it uses.
      it('shows a bundle VISP transcribed before the switch as complete, with its transcript; asked again, redoes it here', async () => {
        const clip = librivoxClips()[0]!;
        const bundleDir = path.join(repositories, 'p1', 'Data', 'VISP_emuDB', 'Session 2_ses', 'old_bndl');
        mkdirSync(bundleDir, { recursive: true });
        copyFileSync(clip.wav, path.join(bundleDir, 'old.wav'));
        // What VISP's WhisperService left: the transcript beside the bundle, and its queue documents (its shape).
        const [srt, text] = ['1\n00:00:00,000 --> 00:00:02,000\nsaid before the switch\n', 'said before the switch'];
        writeFileSync(path.join(bundleDir, 'transcription.srt'), srt);
        writeFileSync(path.join(bundleDir, 'transcription.txt'), text);
        const at = new Date('2026-06-01T10:00:00Z');
        const item = (id: string, fields: object) => ({ id, project: 'p1', session: 'Session 2', bundle: 'old.wav', initiatedByUser: 'alice', language: 'Swedish', model: 'kb-whisper', diarize: false, advancedOptions: {}, status: 'complete', error: null, log: '', createdAt: at, updatedAt: at, finishedAt: at, transcriptionData: { data: text }, preProcessing: false, preProcessingRuns: 0, userNotified: true, queuePosition: -1, __v: 0, ...fields });
        await insertInVisp('transcriptionqueueitems', [
          item('visp-old-1', {}),
          // Unfinished when VISP's queue stopped, or failed: nothing here will finish them; not shown.
          item('visp-old-2', { bundle: 'stuck.wav', status: 'running', finishedAt: null }),
          item('visp-old-3', { bundle: 'broken.wav', status: 'error', error: 'ffmpeg failed' }),
          // Another project's.
          item('visp-old-4', { project: 'p2' }),
        ]);
        const bundle = { project: 'p1', session: 'Session 2', bundle: 'old.wav' };
        const queue = async () => ((await alice.send({ cmd: 'fetchTranscriptionQueueItems', data: { project: 'p1' } })) as unknown as { data: VispTranscriptionItem[] }).data.filter((i) => i.session === 'Session 2');
        expect(await queue()).toEqual([
          { id: 'visp-old-1', project: 'p1', session: 'Session 2', bundle: 'old.wav', initiatedByUser: 'alice', language: 'Swedish', model: 'kb-whisper', status: 'complete', error: '', createdAt: at.toISOString(), updatedAt: at.toISOString(), finishedAt: at.toISOString(), queuePosition: -1 },
        ]);
        expect(await alice.send({ cmd: 'fetchTranscription', data: bundle })).toMatchObject({ type: 'cmd-result', progress: 'end', result: true, data: { srt, text } });
        // Taken off the queue, VISP kept a finished item as it was; so does this. A plain member reads nothing.
        expect(frameOf([await alice.send({ cmd: 'removeTranscriptionFromQueue', data: bundle })])).toEqual([['end', true, '']]);
        expect((await queue()).map((i) => i.id)).toEqual(['visp-old-1']);
        expect(frameOf([await bob.send({ cmd: 'fetchTranscription', data: bundle })])).toEqual([['end', false, 'User does not have access to this project']]);
        expect(frameOf([await alice.send({ cmd: 'fetchTranscription', data: { ...bundle, bundle: 'stuck.wav' } })])).toEqual([['end', false, 'File does not exist in the transcription queue']]);

        // Asked again: redone here, as VISP re-queued its item; the job here takes the bundle's place in the queue.
        expect(frameOf([await alice.send({ cmd: 'transcribe', data: { ...bundle, language: 'English', model: 'whisper' } })])).toEqual([['end', true, 'Re-doing transcription of file.']]);
        const redone = await waitFor('the bundle transcribed here', async () => {
          const items = await queue();
          return items.length === 1 && items[0]!.id !== 'visp-old-1' && items[0]!.status === 'complete' ? items[0] : undefined;
        }, 120_000, 500);
        expect(redone).toMatchObject({ language: 'English', model: 'whisper', initiatedByUser: ALICE });
        await waitFor('the new transcript beside the bundle', () => readFileSync(path.join(bundleDir, 'transcription.txt'), 'utf8') !== text, 10_000);
        const fetched = (await alice.send({ cmd: 'fetchTranscription', data: bundle })).data as { text: string };
        expect(wordErrorRate([{ reference: clip.reference, hypothesis: fetched.text }])).toBeLessThanOrEqual(0.25);
      }, 180_000);
    }

    // Only where VISP's usernames differ from sign-in names: its own database.
    if (variant.alice !== ALICE) {
      it("does not take a sign-in name that is someone's VISP username for that person", async () => {
        const impostor = await VispClient.open(port, SITE, await signIn(port, variant.alice));
        try {
          const session = await impostor.send({ cmd: 'getSession', data: {} });
          expect(session.data).toMatchObject({ username: variant.alice, eppn: variant.alice, privileges: {} });
          expect(session.data).not.toMatchObject({ email: ALICE });
          // Not alice: not on the access list, no projects, no sessions in hers.
          const denial = { result: true, message: 'You are not authorized to use this functionality' };
          expect(await impostor.send({ cmd: 'fetchProjects' })).toMatchObject(denial);
          expect(await impostor.send({ cmd: 'launchContainerSession', projectId: 'p1', appName: 'jupyter' })).toMatchObject(denial);
        } finally {
          impostor.close();
        }
      });
    }

    it('refuses a project that is not there and an app that is not a session type, in VISP words', async () => {
      expect(frameOf(await alice.follow({ cmd: 'launchContainerSession', projectId: 'nope', appName: 'jupyter' }))).toEqual([['end', false, 'Error - no such project']]);
      expect(frameOf(await alice.follow({ cmd: 'launchContainerSession', projectId: 'p1', appName: 'vscode-of-doom' }))).toEqual([['end', false, 'Error - unknown app name']]);
      const unknown = await alice.send({ cmd: 'rmRf' });
      expect(unknown).toMatchObject({ progress: 'end', result: false, message: 'Unknown command rmRf' });
    });
  });
}

vispSequence("the product's own project store", {
  db: 'visp',
  ports: { sessionManager: 19720, gateway: 19780, worker: 19740 },
  env: () => ({}),
  alice: ALICE,
  bob: BOB,
  // Through `visp projects`, as an operator does. The access list: alice and bob on it, carl never put there.
  async seed() {
    const visp = await seedProjects(19780, SITE, await signIn(19780, ADMIN), [{ id: 'p1', name: 'Project one', members: { [ALICE]: 'analyzer', [BOB]: 'member' } }], [ALICE, BOB]);
    expect(visp('list')).toBe(`p1               Project one              ${ALICE}:analyzer ${BOB}:member\n`);
  },
});

// VISP's database: its collections with its documents' shapes (session-manager ApiServer.class.js); carl's
// `loginAllowed` is false.
const vispDatabase = testMongoUri('vispsource');
vispSequence("VISP's own MongoDB collections", {
  db: 'vispdb',
  ports: { sessionManager: 19820, gateway: 19880, worker: 19840 },
  env: () => ({ PROJECT_SOURCE: 'visp', VISP_MONGO_URI: vispDatabase }),
  alice: 'alice',
  bob: 'bob',
  async editInVisp(collection, filter, set) {
    const connection = await mongoose.createConnection(vispDatabase).asPromise();
    try {
      expect((await connection.db!.collection(collection).updateOne(filter, { $set: set })).matchedCount).toBe(1);
    } finally {
      await connection.close();
    }
  },
  async insertInVisp(collection, docs) {
    const connection = await mongoose.createConnection(vispDatabase).asPromise();
    try {
      await connection.db!.collection(collection).insertMany(docs);
    } finally {
      await connection.close();
    }
  },
  async seed() {
    const connection = await mongoose.createConnection(vispDatabase).asPromise();
    try {
      const db = connection.db!;
      await db.collection('users').insertMany([
        { id: 11, firstName: 'Alice', lastName: 'Andersson', fullName: 'Alice Andersson', email: ALICE, username: 'alice', eppn: ALICE, slug: 'alice', phpSessionId: 'x', loginAllowed: true, privileges: { createProjects: true, createInviteCodes: false } },
        { id: 12, firstName: 'Bob', lastName: 'Berg', fullName: 'Bob Berg', email: BOB, username: 'bob', eppn: BOB, slug: 'bob', phpSessionId: 'y', loginAllowed: true, privileges: {} },
        { id: 13, firstName: 'Carl', lastName: 'Cat', fullName: 'Carl Cat', email: CARL, username: 'carl', eppn: CARL, slug: 'carl', phpSessionId: 'z', loginAllowed: false, privileges: {} },
      ]);
      await db.collection('projects').insertOne({
        id: 'p1',
        name: 'Project one',
        slug: 'project-one',
        archived: false,
        sessions: [],
        annotationLevels: [],
        annotationLinks: [],
        members: [
          { username: 'alice', role: 'analyzer' },
          { username: 'bob', role: 'member' },
        ],
        docs: [],
        description: '',
        __v: 0,
      });
    } finally {
      await connection.close();
    }
  },
});
