// VISP's project list: the user's projects with their members (as the directory knows them) and the sessions
// open in each (`liveAppSessions`), which is how VISP's client lists sessions: it has no list command.
import type { VispLiveAppSession, VispUser } from '@visp/contracts';
import type { VispCommand } from './command';
import { LIVE_STATES } from './sessions';

/** What the client reads of a member besides username and role (it finds the user's role by eppn). */
const memberFacts = (user: VispUser | undefined) => (user ? { fullName: user.fullName, firstName: user.firstName, lastName: user.lastName, email: user.email, eppn: user.eppn ?? user.username } : {});

export const projectCommands: VispCommand[] = [
  {
    name: 'fetchProjects',
    family: 'A',
    async handle(_request, context) {
      const me = await context.me();
      const projects = await context.access.projectsOf(context.owner);
      const members = await context.access.membersOf(projects);
      const byUsername = new Map(members.map((user) => [user.username, user]));
      // Sessions are owned by sign-in names (the eppn under single sign-on); the client knows users by username.
      const usernameOf = new Map(members.map((user) => [user.eppn ?? user.username, user.username]));
      if (me) usernameOf.set(context.owner, me.username);
      const inProjects = new Set(projects.map((p) => p.id));
      // Live sessions only, by state: never every record the instance ever kept.
      const live = (await Promise.all([...LIVE_STATES].map((state) => context.manager.list({ state })))).flat()
        .filter((s) => s.project !== undefined && inProjects.has(s.project))
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.sid.localeCompare(b.sid));
      const listed = projects.map((project) => ({
        ...project,
        members: project.members.map((member) => ({ ...member, ...memberFacts(byUsername.get(member.username)) })),
        liveAppSessions: live
          .filter((s) => s.project === project.id)
          .map(
            (s): VispLiveAppSession => ({
              projectId: project.id,
              username: usernameOf.get(s.owner) ?? s.owner,
              type: s.type,
              // Another member's session shows (the client greys out that app), its access code does not.
              sessionAccessCode: s.owner === context.owner ? s.sid : '',
            }),
          ),
      }));
      // `message` stays null: the client takes any message as an error (webclient project.service.ts).
      context.replyA({ data: { result: 200, projects: listed } });
    },
  },
];
