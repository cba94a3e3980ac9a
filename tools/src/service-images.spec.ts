import { readFileSync } from 'node:fs';
import path from 'node:path';
import { nodeArgsFor } from '@visp/config';
import { ROOT } from './paths';
import { imageStage, SERVICE_APPS } from './service-images';

/** Each stage's CMD, its own or inherited from the stage it is built FROM. */
function stageCommands(containerfile: string): Map<string, unknown> {
  const commands = new Map<string, unknown>();
  let stage = '';
  for (const line of containerfile.split('\n')) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      stage = from[2] ?? '';
      commands.set(stage, commands.get(from[1] ?? ''));
    }
    const cmd = /^CMD\s+(\[.*\])\s*$/.exec(line);
    if (cmd) commands.set(stage, JSON.parse(cmd[1] ?? '[]'));
  }
  return commands;
}

describe('the service images', () => {
  it('run each service with the Node.js flags it runs with everywhere else', () => {
    const commands = stageCommands(readFileSync(path.join(ROOT, 'containerfiles/services/Containerfile'), 'utf8'));
    for (const app of SERVICE_APPS) {
      expect({ app, cmd: commands.get(imageStage(app)) }).toEqual({ app, cmd: ['node', ...nodeArgsFor(app), '/opt/visp/app/main.js'] });
    }
  });
});
