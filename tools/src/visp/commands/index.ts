// The table of `visp` subcommands, in the order `visp help` lists them: adding a command is adding its module here.
import type { VispCommand } from '../cli';
import { audit } from './audit';
import { backup } from './backup';
import { doctor } from './doctor';
import { drift } from './drift';
import { install } from './install';
import { lifecycle } from './lifecycle';
import { logs } from './logs';
import { network } from './network';
import { projects } from './projects';
import { restore } from './restore';
import { sessions } from './sessions';
import { shell } from './shell';
import { status } from './status';
import { uninstall } from './uninstall';

export const COMMANDS: readonly VispCommand[] = [doctor, install, uninstall, status, logs, lifecycle, shell, network, sessions, projects, drift, audit, backup, restore];
