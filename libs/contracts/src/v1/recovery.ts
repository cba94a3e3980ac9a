import { z } from 'zod';

export const RECOVERY_ACTIONS = ['adopt', 'republish-route', 'mark-lost', 'remove-container', 'drop-route', 'remove-network', 'join-network', 'report'] as const;

/** What became of one recovery action. */
export const RecoveryOutcomeSchema = z.object({
  kind: z.enum(RECOVERY_ACTIONS),
  sid: z.string().optional(),
  container: z.string().optional(),
  result: z.enum(['done', 'skipped', 'failed', 'planned']),
  detail: z.string().optional(),
});
export type RecoveryOutcome = z.infer<typeof RecoveryOutcomeSchema>;

/** POST /admin/reconcile (recovery) and /api/v1/admin/reconcile (gateway). */
export const ReconcileReportSchema = z.object({
  /** Who acted: the recovery process and its leader lock's fence. */
  actor: z.string(),
  /** False when another recovery process leads: this one did nothing. */
  leader: z.boolean(),
  dryRun: z.boolean(),
  ms: z.number(),
  outcomes: z.array(RecoveryOutcomeSchema),
});
export type ReconcileReport = z.infer<typeof ReconcileReportSchema>;
