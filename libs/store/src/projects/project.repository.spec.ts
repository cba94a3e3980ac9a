import type { Connection } from 'mongoose';
import { ConcurrentChangeError } from '../errors';
import type { UserRepository } from '../users/user.repository';
import { MEMBER_CHANGE_ATTEMPTS, ProjectRepository } from './project.repository';

/**
 * A stand-in for mongoose's model, without a database: `findOne` reads the stored project, `findOneAndUpdate` writes
 * it when the compare-and-set matches, which `matches` decides per attempt.
 */
function fakeStore(stored: { id: string; name: string; archived: boolean; members: Array<Record<string, string>> } | null, matches: (attempt: number) => boolean) {
  const calls = { findOne: 0, findOneAndUpdate: 0 };
  const model = {
    findOne: () => {
      calls.findOne++;
      return { lean: async () => stored && structuredClone(stored) };
    },
    findOneAndUpdate: async (_filter: unknown, update: { $set: { members: Array<Record<string, string>> } }) => {
      calls.findOneAndUpdate++;
      if (!stored || !matches(calls.findOneAndUpdate)) return null;
      stored.members = update.$set.members;
      return structuredClone(stored);
    },
  };
  const connection = { model: () => model } as unknown as Connection;
  return { repository: new ProjectRepository(connection, {} as UserRepository), calls };
}

describe('ProjectRepository member changes', () => {
  const project = () => ({ id: 'p1', name: 'P1', archived: false, members: [{ username: 'ann', role: 'admin' }] });

  it(`give up after ${MEMBER_CHANGE_ATTEMPTS} compare-and-sets that never match, with ConcurrentChangeError, rather than spin`, async () => {
    const { repository, calls } = fakeStore(project(), () => false);
    await expect(repository.setMember('p1', 'bob', 'member')).rejects.toBeInstanceOf(ConcurrentChangeError);
    expect(calls).toEqual({ findOne: MEMBER_CHANGE_ATTEMPTS, findOneAndUpdate: MEMBER_CHANGE_ATTEMPTS });
    await expect(fakeStore(project(), () => false).repository.removeMember('p1', 'ann')).rejects.toThrow(/p1/);
  });

  it('read again and retry when another write came in between, and succeed within the cap', async () => {
    const { repository, calls } = fakeStore(project(), (attempt) => attempt === MEMBER_CHANGE_ATTEMPTS);
    const changed = await repository.setMember('p1', 'bob', 'member');
    expect(changed?.members).toEqual([
      { username: 'ann', role: 'admin' },
      { username: 'bob', role: 'member' },
    ]);
    expect(calls).toEqual({ findOne: MEMBER_CHANGE_ATTEMPTS, findOneAndUpdate: MEMBER_CHANGE_ATTEMPTS });
  });

  it('answer undefined, without writing, when there is no such project', async () => {
    const { repository, calls } = fakeStore(null, () => true);
    expect(await repository.removeMember('p1', 'ann')).toBeUndefined();
    expect(calls).toEqual({ findOne: 1, findOneAndUpdate: 0 });
  });
});
