export { ConcurrentChangeError, DuplicateKeyError, isDuplicateKey } from './errors';
export { SessionRepository, type NewSession, type SessionRecord, type SessionUpdate } from './sessions/session.repository';
export { openStore, type Store, type StoreOptions } from './store';
export { TokenRepository, type ApiToken } from './tokens/token.repository';
export { UserRepository, type SignInIdentity, type User } from './users/user.repository';
export { TranscriptionRepository, type AudioFacts, type NewTranscription, type TranscriptionRecord } from './transcriptions/transcription.repository';
export { DirectoryRecordError, roleIn, type ProjectDirectory } from './projects/directory';
export { ProjectRepository, type NewProject } from './projects/project.repository';
export { VispDirectory } from './projects/visp-directory';
