import { parseUnit, splitCommand } from './stack';

describe('reading quadlets', () => {
  it('keeps repeated keys in order, per section, without comments', () => {
    const unit = parseUnit('# a comment\n[Unit]\nDescription=x\n\n[Container]\nNetwork=a.network\n; another\nNetwork=b.network\nEnvironment=A=b=c\n');
    expect(unit.get('Unit')).toEqual([['Description', 'x']]);
    expect(unit.get('Container')).toEqual([
      ['Network', 'a.network'],
      ['Network', 'b.network'],
      ['Environment', 'A=b=c'],
    ]);
  });

  it('splits Exec= and PodmanArgs= as systemd does, quotes kept together', () => {
    expect(splitCommand(`sh -c 'exec redis-server --requirepass "$(cat /run/secrets/p)"'`)).toEqual(['sh', '-c', 'exec redis-server --requirepass "$(cat /run/secrets/p)"']);
    expect(splitCommand('--cpus=1 --memory=512m')).toEqual(['--cpus=1', '--memory=512m']);
  });
});
