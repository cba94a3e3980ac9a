import type { VispCommand } from '../cli';
import { lifecycle as changeUnits } from '../ops';
import { QUADLETS } from '../../paths';

export const lifecycle: VispCommand = {
  names: ['start', 'stop', 'restart'],
  usage: 'visp start|stop|restart [SERVICE]',
  description: ['The whole deployment, or one service.'],
  options: [],
  run({ name, args }) {
    changeUnits(QUADLETS, name as 'start' | 'stop' | 'restart', args.positional()[0]);
    return 0;
  },
};
