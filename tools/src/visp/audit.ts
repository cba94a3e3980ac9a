import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface Finding {
  file: string;
  line: number;
  problem: string;
  text: string;
}

/** An image reference is pinned when it names a tag other than `latest`, or a digest. */
function unpinnedImage(ref: string): string | undefined {
  if (ref === 'scratch' || ref.includes('@sha256:')) return undefined;
  const lastPart = ref.split('/').at(-1) ?? ref;
  if (!lastPart.includes(':')) return 'no tag (means latest)';
  if (lastPart.endsWith(':latest')) return 'the latest tag';
  return undefined;
}

function filesUnder(dir: string, match: (name: string) => boolean): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return filesUnder(full, match);
    return match(name) ? [full] : [];
  });
}

/** Containerfiles: unpinned bases (also through an ARG default), unversioned clones, unpinned installs, pipes to a shell. */
export function auditContainerfile(file: string, text: string): Finding[] {
  const findings: Finding[] = [];
  const args = new Map<string, string>();
  const stages = new Set<string>();
  for (const { line, number } of logicalLines(text)) {
    const at = { file, line: number, text: line.slice(0, 160) };
    const arg = /^ARG\s+(\w+)=(\S+)/i.exec(line);
    if (arg) args.set(arg[1] as string, arg[2] as string);
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      const ref = (from[1] as string).replace(/^\$\{?(\w+)\}?$/, (_m, name: string) => args.get(name) ?? `$${name}`);
      if (from[2]) stages.add(from[2]);
      const problem = ref.startsWith('$') ? 'a base from a build argument without a default' : stages.has(ref) ? undefined : unpinnedImage(ref);
      if (problem) findings.push({ ...at, problem: `unpinned base image: ${problem}` });
    }
    if (/\bgit\s+clone\b/.test(line) && !/(--branch|\s-b\s)\s*\S+/.test(line) && !/git\s+(checkout|reset --hard)\s+[0-9a-f]{7,}/.test(line)) findings.push({ ...at, problem: 'git clone of an unversioned branch: add --branch <tag> or check out a commit' });
    for (const command of line.split(/&&|;|\|\|/)) {
      const pip = /\bpip3?\s+install\b(.*)/.exec(command);
      if (pip && !/-r\s|--requirement|==/.test(pip[1] as string)) findings.push({ ...at, problem: 'pip install without pinned versions (==) or a requirements file' });
    }
    const npm = /\bnpm\s+(?:install|i)\s+(?:-g|--global)\s+(\S+)/.exec(line);
    if (npm && !/@\d/.test(npm[1] as string)) findings.push({ ...at, problem: 'npm install -g without a version' });
    if (/\b(curl|wget)\b[^|]*\|\s*(ba)?sh\b/.test(line)) findings.push({ ...at, problem: 'a download piped into a shell' });
  }
  return findings;
}

/** Instructions with their continuation lines joined, each with the number of the line it starts on. */
function logicalLines(text: string): Array<{ line: string; number: number }> {
  const out: Array<{ line: string; number: number }> = [];
  let current: { line: string; number: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const continued = raw.trimEnd().endsWith('\\');
    const part = raw.trim().replace(/\\$/, '');
    current = current ? { line: `${current.line} ${part}`, number: current.number } : { line: part, number: i + 1 };
    if (!continued) {
      out.push(current);
      current = undefined;
    }
  });
  if (current) out.push(current);
  return out;
}

/** Quadlets: every Image= pinned. */
function auditQuadlet(file: string, text: string): Finding[] {
  return text.split('\n').flatMap((line, i) => {
    const image = /^Image=(\S+)/.exec(line.trim());
    const problem = image && unpinnedImage(image[1] as string);
    return problem ? [{ file, line: i + 1, problem: `unpinned image: ${problem}`, text: line.trim() }] : [];
  });
}

export function audit(root: string): Finding[] {
  const containerfiles = filesUnder(path.join(root, 'containerfiles'), (n) => n === 'Containerfile' || n === 'Dockerfile');
  const quadlets = filesUnder(path.join(root, 'quadlets'), (n) => n.endsWith('.container'));
  return [
    ...containerfiles.flatMap((f) => auditContainerfile(path.relative(root, f), readFileSync(f, 'utf8'))),
    ...quadlets.flatMap((f) => auditQuadlet(path.relative(root, f), readFileSync(f, 'utf8'))),
  ];
}
