export { InvalidAudioError, isEngineReady, probeAudio, silentWav, sniffAudio, SNIFF_BYTES, toEngineWav, type AudioContainer, type AudioProbe } from './audio';
export { TranscriptionFiles } from './files';
export { CONTENT_TYPES, normalizeTranscript, renderTranscript } from './formats';
export { abortError, eachLine, lastLine, runProcess, spawnInGroup, startFailure, type GroupProcess, type RunOptions, type RunResult } from './run';
