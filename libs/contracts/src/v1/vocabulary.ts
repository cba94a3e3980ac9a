// The contracts' word lists as plain values, without zod: the schemas are built from them (sessions.ts,
// transcriptions.ts), and the start page (apps/gateway/web) imports them as `@visp/contracts/vocabulary`, because
// importing any schema would bundle zod into the browser's script.

export const SESSION_STATES = ['pending', 'starting', 'ready', 'stopping', 'stopped', 'failed'] as const;
type SessionState = (typeof SESSION_STATES)[number];
/** States from which a session can still become usable or is in use: they count against its owner's limit. */
export const ACTIVE_SESSION_STATES: readonly SessionState[] = ['pending', 'starting', 'ready', 'stopping'];
/** States of a session that is open or on its way to being open: it can be opened (once ready) and stopped. */
export const LIVE_SESSION_STATES: readonly SessionState[] = ['pending', 'starting', 'ready'];
/** States of a session on its way to being open: a start that ends in failure, or recovery's adoption, leaves them. */
export const STARTING_SESSION_STATES: readonly SessionState[] = ['pending', 'starting'];
/** The rest: a session in one of these is over and never changes again. */
export const FINAL_SESSION_STATES: readonly SessionState[] = ['stopped', 'failed'];

/** Progress steps reported while a session starts, in order. */
export const PROGRESS_STEPS = ['queued', 'preflight', 'creating', 'scheduled', 'pulling', 'starting', 'waiting-ready', 'ready'] as const;

export const TRANSCRIPTION_STATES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
type TranscriptionState = (typeof TRANSCRIPTION_STATES)[number];
/** States in which a job still counts against its owner's pending limit and can be cancelled. */
export const PENDING_TRANSCRIPTION_STATES = ['queued', 'running'] as const satisfies readonly TranscriptionState[];
/** States a job ends in; its files are removed some time after. */
export const FINISHED_TRANSCRIPTION_STATES: readonly TranscriptionState[] = ['completed', 'failed', 'cancelled'];

/** The formats a transcript is downloaded in, in the order people are offered them (JSON, for programs, last). */
export const TRANSCRIPT_FORMATS = ['txt', 'srt', 'vtt', 'json'] as const;
