import { ROOT } from '../paths';
import { audit, auditContainerfile } from './audit';

describe('visp audit', () => {
  it('finds unpinned bases, unversioned clones, unpinned installs and pipes to a shell', () => {
    const findings = auditContainerfile(
      'Containerfile',
      [
        'ARG BASE=debian',
        'FROM ${BASE} AS build',
        'FROM docker.io/library/node:latest',
        'FROM build',
        'RUN git clone https://example.org/x.git \\',
        '  && make',
        'RUN git clone --branch v1.2.3 https://example.org/y.git',
        'RUN pip install requests && pip install -r requirements.txt',
        'RUN npm install -g configurable-http-proxy && npm install -g foo@1.2.3',
        'RUN curl -fsSL https://get.example.org | sh',
        'FROM docker.io/library/debian:bookworm-slim',
      ].join('\n'),
    );
    expect(findings.map((f) => [f.line, f.problem.split(':')[0]])).toEqual([
      [2, 'unpinned base image'],
      [3, 'unpinned base image'],
      [5, 'git clone of an unversioned branch'],
      [8, 'pip install without pinned versions (==) or a requirements file'],
      [9, 'npm install -g without a version'],
      [10, 'a download piped into a shell'],
    ]);
  });

  it('finds nothing to fix in the repository’s own containerfiles and quadlets', () => {
    expect(audit(ROOT)).toEqual([]);
  });
});
