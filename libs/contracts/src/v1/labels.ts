/**
 * Names of the Podman labels the system puts on what it creates (containers, networks, volumes, images); see
 * docs/architecture.md, Names. The session labels alone must be enough to rebuild a session record
 * (`SessionLabelsSchema` holds their values). Every `visp.*` label name is written here and nowhere else
 * (the `visp/contract-literals` lint rule).
 */
export const LABEL = {
  managed: 'visp.managed',
  instance: 'visp.instance',
  schema: 'visp.schema',
  sessionId: 'visp.session.id',
  sessionType: 'visp.session.type',
  owner: 'visp.session.owner',
  project: 'visp.session.project',
  created: 'visp.session.created',
  /** `true` on a session prepared ahead for its owner (the warm pool); absent otherwise. */
  warm: 'visp.session.warm',
  /**
   * On a Kubernetes session's pod (an annotation): its limits as JSON, pids included, which a pod's resources
   * cannot say; recovery rebuilds a record's limits from it.
   */
  limits: 'visp.session.limits',
  /** On the images the dev tool builds: the hash of their inputs, so an unchanged image is not built again. */
  buildHash: 'visp.build-hash',
} as const;

/** The value of `visp.schema` on a session's container: how its labels are to be read. */
export const LABEL_SCHEMA_VERSION = '1';
