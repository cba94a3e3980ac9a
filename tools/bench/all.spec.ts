import { BEGIN, command, duration, END, figure, machineOf, renderSection, replaceSection, shortWhy, targetCell, type Outcome } from './all';
import { ISSUE_25 } from './results';

const RUN = { date: '2026-12-07', machine: '2 cores, Intel(R) Xeon(R) Processor, 23.5 GiB', seconds: 272 };

describe('bench all', () => {
  it('names each benchmark with its settings as flags', () => {
    expect(command('proxy', { seconds: 2, latencyRounds: 3 })).toBe('bench proxy --seconds 2 --latency-rounds 3');
    expect(command('all', {})).toBe('bench all');
  });

  it('reads cores, CPU model and memory from /proc', () => {
    const cpuinfo = 'processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n';
    expect(machineOf(cpuinfo, 'MemTotal:       24683772 kB\nMemFree:        18489092 kB\n', 2)).toBe('2 cores, Intel(R) Xeon(R) Processor, 23.5 GiB');
    expect(machineOf('', '', 1)).toBe('1 core, CPU model unknown, memory unknown');
  });

  it('prints figures with a precision that suits their size', () => {
    expect(figure(1615.4, 'ms')).toBe('1,615 ms');
    expect(figure(18.94, 'ms')).toBe('18.9 ms');
    expect(figure(0.1234, 'ms')).toBe('0.12 ms');
    expect(figure(-22, 'MB')).toBe('-22.0 MB');
  });

  it('says whether a target was met, on the ratio or on the figure', () => {
    const spawn = { name: 'one', unit: 'ms', visp: 160, reference: { name: 'bare podman', value: 126 } };
    expect(targetCell({ ...spawn, target: ISSUE_25.spawnOne })).toBe('≤ 1.05×: **not met**');
    expect(targetCell({ ...spawn, visp: 126, target: ISSUE_25.spawnOne })).toBe('≤ 1.05×: met');
    expect(targetCell({ name: 'ws', unit: 'msg/s', visp: 9000, reference: { name: 'chp', value: 6000 }, target: ISSUE_25.wsThroughput })).toBe('≥ 1.5×: met');
    expect(targetCell({ name: 'overhead', unit: 'ms', visp: 24, target: ISSUE_25.transcribeOverhead })).toBe('≤ 20 ms: **not met**');
    expect(targetCell({ name: 'added', unit: 'ms', visp: -0.1, reference: { name: 'chp', value: 0.4 }, target: { of: 'ratio', op: '≤', value: 1 } })).toBe('≤ 1×: not measured');
    expect(targetCell(spawn)).toBe('');
  });

  it('renders a row per measure, and a failed benchmark as a row saying why', () => {
    const outcomes: Outcome[] = [
      {
        name: 'spawn',
        settings: { runs: 3, burst: 10 },
        seconds: 95.2,
        measures: [
          { name: 'box, 10 at once: start until ready', unit: 'ms', visp: 1135, reference: { name: 'bare podman', value: 821 }, target: ISSUE_25.spawnBurst },
          { name: 'HTTP through /s/<sid>/ | c=10', unit: 'req/s', visp: 7000.4, reference: { name: 'configurable-http-proxy', value: 3500 } },
        ],
      },
      { name: 'ws-hold', settings: { sockets: 200, minutes: 1 }, seconds: 3, measures: [{ name: 'growth', unit: 'MB', visp: 14, reference: { name: 'configurable-http-proxy', value: -22 } }] },
      { name: 'transcribe', settings: { rounds: 1 }, seconds: 12, measures: [], failed: 'gateway /healthz: not ready within 30000 ms' },
    ];
    const machine = RUN.machine;
    expect(renderSection(outcomes, RUN).split('\n')).toEqual([
      BEGIN,
      'Run on 2026-12-07 in 4 m 32 s (spawn 1 m 35 s, ws-hold 3 s, transcribe 12 s): 3 benchmarks, 1 failed.',
      '',
      '| benchmark, settings | date | machine | measure | visp | reference | ratio | issue 25 target |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      `| \`bench spawn --runs 3 --burst 10\` | 2026-12-07 | ${machine} | box, 10 at once: start until ready | 1,135 ms | 821 ms (bare podman) | 1.38× | ≤ 1.2×: **not met** |`,
      `| \`bench spawn --runs 3 --burst 10\` | 2026-12-07 | ${machine} | HTTP through /s/&lt;sid>/ \\| c=10 | 7,000 req/s | 3,500 req/s (configurable-http-proxy) | 2.00× |  |`,
      `| \`bench ws-hold --sockets 200 --minutes 1\` | 2026-12-07 | ${machine} | growth | 14.0 MB | -22.0 MB (configurable-http-proxy) |  |  |`,
      `| \`bench transcribe --rounds 1\` | 2026-12-07 | ${machine} | **failed**: gateway /healthz: not ready within 30000 ms |  |  |  |  |`,
      END,
    ]);
  });

  it('replaces only the marked section, so reruns keep the rest of the page', () => {
    const page = (section: string) => `# Benchmarks\n\nintro\n\n${section}\n\n## History\n\nhand-written notes\n`;
    const first = `${BEGIN}\nold table\n${END}`;
    const second = `${BEGIN}\nnew table\n${END}`;
    expect(replaceSection(page(first), second)).toBe(page(second));
    expect(replaceSection(replaceSection(page(first), second), second)).toBe(page(second));
    // Markers an earlier version wrote, with other words after "begin", are still found.
    expect(replaceSection(page(`<!-- bench all: begin -->\nold\n${END}`), second)).toBe(page(second));
    expect(replaceSection('# Benchmarks\n\nintro\n', second)).toBe(`# Benchmarks\n\nintro\n\n## \`bench all\`\n\n${second}\n`);
  });

  it('keeps an error to its first line, cut short', () => {
    expect(shortWhy(new Error('recovery /readyz: process exited (1) before it was ready:\nlog tail'))).toBe('recovery /readyz: process exited (1) before it was ready:');
    expect(shortWhy('x'.repeat(200))).toHaveLength(160);
    expect(duration(59.6)).toBe('1 m 00 s');
  });
});
