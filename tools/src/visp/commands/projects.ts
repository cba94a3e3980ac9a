import type { VispCommand } from '../cli';
import { OperatorError } from '../host';
import { adminApi, adminTarget } from '../ops';

interface Project {
  id: string;
  name: string;
  members: Array<{ username: string; role: string }>;
}

const line = (p: Project) => `${p.id.padEnd(16)} ${p.name.padEnd(24)} ${p.members.map((m) => `${m.username}:${m.role}`).join(' ')}`;
const segment = (value: string) => encodeURIComponent(value);

export const projects: VispCommand = {
  names: ['projects'],
  usage: 'visp projects [list | create ID NAME | member ID USER ROLE | remove-member ID USER | delete ID | allow USER | deny USER] [--url URL] [--token TOKEN] [--json]',
  description: [
    "The product's own projects (PROJECT_SOURCE=store) through the gateway's admin API (VISP_URL, VISP_TOKEN: an admin's API token).",
    'ROLE is admin, analyzer (both may run sessions in it) or member. allow and deny put a user on the access list or take them off (ACCESS_LIST_ENABLED).',
  ],
  options: [{ flag: '--url', value: 'URL' }, { flag: '--token', value: 'TOKEN' }, { flag: '--json' }],
  async run({ args, help, print }) {
    const [action = 'list', ...rest] = args.positional();
    const { url, token } = adminTarget(args);
    const call = (method: string, apiPath: string, body?: unknown) => adminApi(url, token, method, apiPath, body);
    const need = (count: number) => {
      if (rest.length !== count) throw new OperatorError(`${action} takes ${count} argument${count === 1 ? '' : 's'}`, help);
      return rest as string[];
    };
    switch (action) {
      case 'list': {
        need(0);
        const result = (await call('GET', '/api/v1/admin/projects')) as { projects: Project[] };
        print(result, result.projects.map(line).join('\n') || 'no projects');
        return 0;
      }
      case 'create': {
        const [id, name] = need(2) as [string, string];
        const created = (await call('POST', '/api/v1/admin/projects', { id, name, members: [] })) as Project;
        print(created, `created ${line(created)}`);
        return 0;
      }
      case 'member': {
        const [id, user, role] = need(3) as [string, string, string];
        const changed = (await call('PUT', `/api/v1/admin/projects/${segment(id)}/members/${segment(user)}`, { role })) as Project;
        print(changed, line(changed));
        return 0;
      }
      case 'remove-member': {
        const [id, user] = need(2) as [string, string];
        const changed = (await call('DELETE', `/api/v1/admin/projects/${segment(id)}/members/${segment(user)}`)) as Project;
        print(changed, line(changed));
        return 0;
      }
      case 'delete': {
        const [id] = need(1) as [string];
        await call('DELETE', `/api/v1/admin/projects/${segment(id)}`);
        print({ deleted: id }, `deleted ${id} (its files stay)`);
        return 0;
      }
      case 'allow':
      case 'deny': {
        const [user] = need(1) as [string];
        await call('PUT', `/api/v1/admin/access/${segment(user)}`, { loginAllowed: action === 'allow' });
        print({ user, loginAllowed: action === 'allow' }, `${user} is ${action === 'allow' ? 'on' : 'off'} the access list`);
        return 0;
      }
      default:
        throw new OperatorError(`no action ${action}`, help);
    }
  },
};
