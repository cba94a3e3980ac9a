export * from './v1/auth';
export * from './v1/errors';
export * from './v1/events';
export * from './v1/jobs';
export * from './v1/session-api';
export * from './v1/sessions';
export * from './v1/webclient';
export * from './v1/recovery';
