// The environments researchers expect (issue 26), used as a researcher uses them: in Chromium, through VISP's
// route (a session launched in a project by VISP's webclient protocol, opened at app.<host>). JupyterLab 4 opens;
// a Python and an R notebook run a cell each and show its output; a speech notebook from the project's folder
// loads a recording, computes its pitch with Parselmouth, writes a TextGrid with tgt and plots a spectrogram with
// librosa, and what it wrote is checked, not just that it ran. VS Code (code-server) opens; a file made and saved
// in its editor is in the home, and a command run in its terminal shows its output. The R app (RStudio's stand-in
// here) answers a changed input over its WebSocket.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { discoverPodman, PodmanClient } from '@visp/podman-client';
import { testPodmanHost, waitFor } from '@visp/testing';
import { launchChromium, notebookCard, openJupyterLab, signInOnPage } from './chromium';
import { useGatewayStack } from './gateway-stack';
import { TEST_SECRETS } from './launch';
import { signInOnSite, VispClient } from './visp-client';
import { seedProjects } from './visp-projects';

const ARTIFACTS = path.resolve(__dirname, '../../.visp/artifacts');
const SITE = 'visp.test';
const APP = `app.${SITE}`;
const PORT = 19980;
const ALICE = 'alice@uni.se';
const ADMIN = 'admin@uni.se';
/** The recording's fundamental frequency: what Parselmouth must find. */
const F0 = 200;

/**
 * One second of a voice-like tone at `f0` (its first five harmonics, the k-th at 1/k), 16-bit mono at 16 kHz, as a
 * WAV file: a recording whose pitch is known.
 */
function toneWav(f0: number, seconds = 1, rate = 16_000): Buffer {
  const samples = Math.round(seconds * rate);
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    let value = 0;
    for (let k = 1; k <= 5; k++) value += Math.sin((2 * Math.PI * k * f0 * i) / rate) / k;
    // The sum stays below 2.3 in size: scaled into 80 % of the 16-bit range.
    data.writeInt16LE(Math.round((value / 2.3) * 0.8 * 32767), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16); // the fmt chunk's size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28); // bytes a second
  header.writeUInt16LE(2, 32); // bytes a frame
  header.writeUInt16LE(16, 34); // bits a sample
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

/** A notebook (nbformat 4) of Python code cells, as a researcher keeps one in a project. */
const notebook = (cells: string[]) =>
  JSON.stringify({
    cells: cells.map((source) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source })),
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3 (ipykernel)', language: 'python' } },
    nbformat: 4,
    nbformat_minor: 4,
  });

const SPEECH_NOTEBOOK = notebook([
  `import numpy as np
import parselmouth
sound = parselmouth.Sound('speech.wav')
pitch = sound.to_pitch()
f0 = pitch.selected_array['frequency']
print(f'mean pitch {f0[f0 > 0].mean():.1f} Hz')`,
  `import tgt
voiced = pitch.xs()[f0 > 0]
grid = tgt.TextGrid()
tier = tgt.IntervalTier(start_time=0, end_time=sound.duration, name='voicing')
tier.add_interval(tgt.Interval(voiced[0], voiced[-1], 'voiced'))
grid.add_tier(tier)
tgt.io.write_to_file(grid, 'speech.TextGrid', format='long')
print('TextGrid written')`,
  `import librosa
import librosa.display
import matplotlib.pyplot as plt
y, sr = librosa.load('speech.wav', sr=None)
spectrum = np.abs(librosa.stft(y))
fig, ax = plt.subplots(figsize=(6, 3))
librosa.display.specshow(librosa.amplitude_to_db(spectrum, ref=np.max), sr=sr, x_axis='time', y_axis='hz', ax=ax)
fig.savefig('spectrogram.png', dpi=80)
print(f'strongest frequency {librosa.fft_frequencies(sr=sr)[spectrum.mean(axis=1).argmax()]:.0f} Hz')`,
]);

/** The PNG's width and height, from its IHDR chunk; undefined when the file is no PNG. */
function pngSize(file: Buffer): { width: number; height: number } | undefined {
  if (!file.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) || file.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: file.readUInt32BE(16), height: file.readUInt32BE(20) };
}

const repositories = mkdtempSync(path.join(tmpdir(), 'visp-e2e-environments-'));
const projectDir = path.join(repositories, 'p1');
const stack = useGatewayStack(
  { sessionManager: 19920, gateway: PORT },
  'envs',
  { APP_HOSTS: APP, COOKIE_DOMAIN: SITE, VISP_WEBCLIENT: 'true', ACCESS_LIST_ENABLED: 'true', ADMIN_USERS: ADMIN, PROJECT_REPOSITORIES_DIR: repositories },
  // Alice opens all three types at once.
  { sessionManagerEnv: { PROJECT_REPOSITORIES_DIR: repositories, MAX_SESSIONS_PER_USER: '3' } },
);

let browser: Browser;
let context: BrowserContext;
let jupyterLab: Page;

const consoleLines: string[] = [];
/** The container of the app under test: its log goes with a failure. */
let appContainer = '';
const podman = new PodmanClient(discoverPodman({ CONTAINER_HOST: testPodmanHost() }));

/** Launches `appName` in project p1 as VISP's webclient does; the last frame carries the session's code. */
async function launchInProject(appName: string): Promise<string> {
  const client = await VispClient.open(PORT, SITE, await signInOnSite(PORT, SITE, ALICE, TEST_SECRETS.TEST_USER_LOGIN_KEY));
  const frames = await client.follow({ cmd: 'launchContainerSession', projectId: 'p1', appName }).finally(() => client.close());
  const code = frames.at(-1)?.message ?? '';
  expect([frames.at(-1)?.progress, code]).toEqual(['end', expect.stringMatching(/^[a-z2-7]{12}$/)]);
  return code;
}

/** A browser context signed in on the site's own page, which sets the app hosts' cookie too. */
async function signedInContext(): Promise<BrowserContext> {
  const signedIn = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  signedIn.on('console', (message) => void consoleLines.push(`${message.type()}: ${message.text()}`));
  signedIn.on('weberror', (err) => void consoleLines.push(`error: ${err.error().message}`));
  const site = await signedIn.newPage();
  await site.goto(`http://${SITE}:${PORT}/`);
  await signInOnPage(site, ALICE, TEST_SECRETS.TEST_USER_LOGIN_KEY);
  await site.close();
  return signedIn;
}

/** A screenshot of `page` when `step` fails, for the artifacts, and what the page said in its console. */
async function shotOnFailure<T>(page: Page, name: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    await page.screenshot({ path: path.join(ARTIFACTS, `environments-${name}-failed.png`), fullPage: true }).catch(() => undefined);
    const logs = await podman.logs(appContainer, { tail: 60 }).catch((e: unknown) => ({ stdout: '', stderr: String(e) }));
    throw new Error(`${(err as Error).message}\nthe page's console:\n${consoleLines.slice(-40).join('\n')}\nthe app's log:\n${logs.stdout}${logs.stderr}`, { cause: err });
  }
}

beforeAll(async () => {
  // The project's folder as VISP keeps it, the session's unprivileged user free to read and write it.
  mkdirSync(projectDir, { recursive: true });
  writeFileSync(path.join(projectDir, 'speech.wav'), toneWav(F0));
  writeFileSync(path.join(projectDir, 'speech.ipynb'), SPEECH_NOTEBOOK);
  chmodSync(repositories, 0o755);
  chmodSync(projectDir, 0o777);
  for (const file of ['speech.wav', 'speech.ipynb']) chmodSync(path.join(projectDir, file), 0o666);
  await seedProjects(PORT, SITE, await signInOnSite(PORT, SITE, ADMIN, TEST_SECRETS.TEST_USER_LOGIN_KEY), [{ id: 'p1', name: 'Speech', members: { [ALICE]: 'analyzer' } }], [ALICE]);

  const code = await launchInProject('jupyter');
  appContainer = `visp-session-jupyter-${code}`;

  browser = await launchChromium(stack.url, { hosts: [SITE, APP] });
  context = await signedInContext();
  mkdirSync(ARTIFACTS, { recursive: true });
  jupyterLab = await openJupyterLab(context, path.join(ARTIFACTS, 'environments-jupyterlab.png'), async () => {
    const page = await context.newPage();
    await page.goto(`http://${APP}:${PORT}/?token=${code}`);
    return page;
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  rmSync(repositories, { recursive: true, force: true });
});

/** The visible notebook's cells' outputs, as text. */
const outputs = (page: Page) => page.locator('.jp-NotebookPanel:visible .jp-OutputArea-output');

/**
 * Waits, as a user does, until the status bar says the notebook's kernel is idle: a cell run before its kernel is
 * connected is not run at all (JupyterLab leaves it unnumbered).
 */
const kernelIdle = (page: Page, kernel: string) => page.locator('.jp-StatusBar-Widget').getByText(`${kernel} | Idle`).waitFor({ timeout: 60_000 });

/** Types `code` into the visible notebook's first cell, once its kernel is idle, and runs it. */
async function runFirstCell(page: Page, kernel: string, code: string): Promise<void> {
  await kernelIdle(page, kernel);
  await page.locator('.jp-NotebookPanel:visible .jp-Cell .cm-content').first().click();
  await page.keyboard.type(code);
  await page.keyboard.press('Shift+Enter');
}

it('opens JupyterLab 4 at app.<host>, with the Python and R kernels on its launcher; /tree opens Notebook 7', async () => {
  expect(new URL(jupyterLab.url()).host).toBe(`${APP}:${PORT}`);
  expect(new URL(jupyterLab.url()).pathname).toMatch(/^\/s\/[a-z2-7]{12}\/lab/);
  await expect(notebookCard(jupyterLab, 'R').count()).resolves.toBe(1);
  // The version the page reports is JupyterLab's own.
  const config = JSON.parse((await jupyterLab.locator('#jupyter-config-data').textContent()) ?? '{}') as { appVersion?: string };
  expect(config.appVersion).toMatch(/^4\./);
  // Old links to the classic interface's /tree open Notebook 7's file browser, with the project's files.
  const tree = await context.newPage();
  await tree.goto(`http://${APP}:${PORT}/tree/project`);
  await shotOnFailure(tree, 'tree', () => tree.getByText('speech.ipynb').waitFor({ timeout: 60_000 }));
  expect(JSON.parse((await tree.locator('#jupyter-config-data').textContent()) ?? '{}')).toMatchObject({ appName: 'Jupyter Notebook', notebookPage: 'tree' });
  await tree.close();
});

it('runs a cell of a new Python notebook and of a new R notebook, and shows their output', () => shotOnFailure(jupyterLab, 'notebooks', async () => {
  await notebookCard(jupyterLab, 'Python 3 (ipykernel)').click();
  await runFirstCell(jupyterLab, 'Python 3 (ipykernel)', 'print(6 * 7, "from Python")');
  await outputs(jupyterLab).filter({ hasText: '42 from Python' }).waitFor({ timeout: 60_000 });

  await jupyterLab.getByTitle(/^New Launcher/).first().click();
  await notebookCard(jupyterLab, 'R').click();
  await runFirstCell(jupyterLab, 'R', 'cat(6 * 7, "from R")');
  await outputs(jupyterLab).filter({ hasText: '42 from R' }).waitFor({ timeout: 60_000 });
  await jupyterLab.screenshot({ path: path.join(ARTIFACTS, 'environments-r-notebook.png') });
}), 180_000);

it("runs the project's speech notebook: Parselmouth finds the recording's pitch, tgt writes its TextGrid, librosa plots its spectrogram", async () => {
  const page = await context.newPage();
  await page.goto(`http://${APP}:${PORT}/lab/tree/project/speech.ipynb`);
  const cells = page.locator('.jp-NotebookPanel:visible .jp-Cell');
  await shotOnFailure(page, 'speech-open', () => cells.nth(2).waitFor({ timeout: 60_000 }));
  await expect(cells.count()).resolves.toBe(3);
  // Each cell in turn, as a researcher steps through it: run, wait for its output, the next.
  await kernelIdle(page, 'Python 3 (ipykernel)');
  await shotOnFailure(page, 'speech-run', async () => {
    for (let i = 0; i < 3; i++) {
      await cells.nth(i).locator('.cm-content').click();
      await page.keyboard.press('Shift+Enter');
      await cells.nth(i).locator('.jp-OutputArea-output').first().waitFor({ timeout: 120_000 });
    }
    // The figure comes after the cell's printed line.
    await outputs(page).locator('img').first().waitFor({ timeout: 30_000 });
  });
  await page.screenshot({ path: path.join(ARTIFACTS, 'environments-speech-notebook.png'), fullPage: true });

  const printed = (await outputs(page).allTextContents()).join('\n');
  const number = (pattern: RegExp) => Number(pattern.exec(printed)?.[1]);
  // Praat's pitch and the spectrum's strongest bin are the tone's fundamental (a bin of 2048 points at 16 kHz is 7.8 Hz).
  expect(Math.abs(number(/mean pitch ([\d.]+) Hz/) - F0)).toBeLessThan(2);
  expect(Math.abs(number(/strongest frequency ([\d.]+) Hz/) - F0)).toBeLessThan(8);
  expect(printed).toContain('TextGrid written');

  // What it wrote into the project, read on this side: a TextGrid tier with the voiced stretch, and a PNG.
  const textGrid = readFileSync(path.join(projectDir, 'speech.TextGrid'), 'utf8');
  expect(textGrid).toMatch(/^File type = "ooTextFile"/);
  expect(textGrid).toContain('name = "voicing"');
  const interval = /xmin = ([\d.]+)\s+xmax = ([\d.]+)\s+text = "voiced"/.exec(textGrid);
  expect([Number(interval?.[1]) < 0.1, Number(interval?.[2]) > 0.9]).toEqual([true, true]);
  expect(pngSize(readFileSync(path.join(projectDir, 'spectrogram.png')))).toEqual({ width: 480, height: 240 });
}, 300_000);

it('opens VS Code at app.<host>: a file made and saved in its editor is in the home, and its terminal shows a command\'s output; the same on the gateway\'s host', async () => {
  const code = await launchInProject('vscode');
  appContainer = `visp-session-vscode-${code}`;
  // The terminal drawn in the page rather than on a canvas, so its text can be read (a user's setting).
  const settings = JSON.stringify({ 'terminal.integrated.gpuAcceleration': 'off', 'workbench.startupEditor': 'none' });
  const written = await podman.exec(appContainer, ['sh', '-c', 'mkdir -p ~/.local/share/code-server/User && printf %s "$1" > ~/.local/share/code-server/User/settings.json', 'sh', settings]);
  expect(written.exitCode).toBe(0);
  // Its own context: the app host's session cookie is one per browser, as in VISP's iframe.
  const vscodeContext = await signedInContext();
  const page = await vscodeContext.newPage();
  await page.goto(`http://${APP}:${PORT}/?token=${code}`);
  await shotOnFailure(page, 'vscode-open', async () => {
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await page.getByRole('tree', { name: /Files Explorer/ }).waitFor({ timeout: 60_000 });
  });
  await page.screenshot({ path: path.join(ARTIFACTS, 'environments-vscode.png') });

  // A new file from the Explorer, typed into and saved with Ctrl+S.
  await shotOnFailure(page, 'vscode-edit', async () => {
    await page.getByRole('tree', { name: /Files Explorer/ }).hover();
    await page.getByRole('button', { name: 'New File...' }).first().click();
    // The name box opens in the tree a moment later.
    await page.getByRole('tree', { name: /Files Explorer/ }).getByRole('textbox').waitFor({ timeout: 30_000 });
    await page.keyboard.type('notes.txt');
    await page.keyboard.press('Enter');
    await page.locator('.part.editor .monaco-editor .view-lines').first().click();
    await page.keyboard.type('written in VS Code');
    await page.keyboard.press('Control+s');
    await waitFor('the file saved in the home', async () => ((await podman.exec(appContainer, ['cat', '/home/visp/notes.txt'])).stdout === 'written in VS Code' ? true : undefined), 30_000, 500);
  });

  // A terminal, a command, its output on the screen.
  await shotOnFailure(page, 'vscode-terminal', async () => {
    await page.keyboard.press('Control+Backquote');
    await page.locator('.terminal-wrapper.active .xterm-rows').waitFor({ timeout: 60_000 });
    await page.locator('.terminal-wrapper.active .xterm').click();
    await page.keyboard.type('echo "$((6 * 7)) from the terminal in $PWD"');
    await page.keyboard.press('Enter');
    await page.locator('.terminal-wrapper.active .xterm-rows').getByText('42 from the terminal in /home/visp').waitFor({ timeout: 30_000 });
  });
  await page.screenshot({ path: path.join(ARTIFACTS, 'environments-vscode-terminal.png') });

  // The same session on the gateway's own host, below /s/<sid>/ (the gateway strips the prefix): the file is there.
  const onGateway = await vscodeContext.newPage();
  await onGateway.goto(`http://${SITE}:${PORT}/s/${code}/`);
  await shotOnFailure(onGateway, 'vscode-gateway', () => onGateway.getByRole('tree', { name: /Files Explorer/ }).getByText('notes.txt').waitFor({ timeout: 90_000 }));
  await vscodeContext.close();
}, 300_000);

it("opens the R session at app.<host> and on the gateway's host, and its page answers a changed input over the app's WebSocket", async () => {
  const code = await launchInProject('rstudio');
  appContainer = `visp-session-rstudio-${code}`;
  const rContext = await signedInContext();
  const page = await rContext.newPage();
  await page.goto(`http://${APP}:${PORT}/?token=${code}`);
  await shotOnFailure(page, 'rstudio', async () => {
    await page.getByRole('heading', { name: 'VISP R session' }).waitFor({ timeout: 60_000 });
    await page.getByText('n * 7 = 42').waitFor({ timeout: 30_000 });
    await page.getByLabel('n').fill('9');
    await page.getByText('n * 7 = 63').waitFor({ timeout: 30_000 });
  });
  // And on the gateway's own host, below /s/<sid>/.
  const onGateway = await rContext.newPage();
  await onGateway.goto(`http://${SITE}:${PORT}/s/${code}/`);
  await shotOnFailure(onGateway, 'rstudio-gateway', async () => {
    await onGateway.getByText('n * 7 = 42').waitFor({ timeout: 60_000 });
    await onGateway.getByLabel('n').fill('2');
    await onGateway.getByText('n * 7 = 14').waitFor({ timeout: 30_000 });
  });
  await rContext.close();
}, 180_000);
