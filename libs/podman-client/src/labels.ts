import { LABEL, LABEL_SCHEMA_VERSION, SessionLabelsSchema, type SessionLabels } from '@visp/contracts';

// The label names are a contract (libs/contracts `LABEL`); this is their codec.

/** Labels for anything the system creates that is not a session (networks, volumes). */
export function managedLabels(instance: string, extra: Record<string, string> = {}): Record<string, string> {
  return { [LABEL.managed]: 'true', [LABEL.instance]: instance, ...extra };
}

export function encodeSessionLabels(session: SessionLabels): Record<string, string> {
  const valid = SessionLabelsSchema.parse(session);
  return {
    ...managedLabels(valid.instance),
    [LABEL.schema]: LABEL_SCHEMA_VERSION,
    [LABEL.sessionId]: valid.id,
    [LABEL.sessionType]: valid.type,
    [LABEL.owner]: valid.owner,
    ...(valid.project ? { [LABEL.project]: valid.project } : {}),
    [LABEL.created]: valid.created,
    ...(valid.warm ? { [LABEL.warm]: 'true' } : {}),
  };
}

const FIELD_LABEL = {
  instance: LABEL.instance,
  id: LABEL.sessionId,
  type: LABEL.sessionType,
  owner: LABEL.owner,
  project: LABEL.project,
  created: LABEL.created,
  warm: LABEL.warm,
} as const;

export type DecodedLabels = { ok: true; session: SessionLabels } | { ok: false; reason: string };

/** Reads session metadata back from labels; anything malformed or foreign is a reason, never an exception. */
export function decodeSessionLabels(labels: Record<string, string> | null | undefined): DecodedLabels {
  if (!labels || labels[LABEL.managed] !== 'true') return { ok: false, reason: 'not managed by visp' };
  const schema = labels[LABEL.schema];
  if (schema !== LABEL_SCHEMA_VERSION) return { ok: false, reason: `unsupported label schema ${JSON.stringify(schema ?? null)}` };
  const parsed = SessionLabelsSchema.safeParse({
    instance: labels[LABEL.instance],
    id: labels[LABEL.sessionId],
    type: labels[LABEL.sessionType],
    owner: labels[LABEL.owner],
    project: labels[LABEL.project],
    created: labels[LABEL.created],
    // Anything but `true` is refused, not read as false: a label that says something else was not written by us.
    warm: labels[LABEL.warm] === undefined ? undefined : labels[LABEL.warm] === 'true' ? true : labels[LABEL.warm],
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? '') as keyof typeof FIELD_LABEL;
    return { ok: false, reason: `${FIELD_LABEL[field] ?? 'labels'}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, session: parsed.data };
}
