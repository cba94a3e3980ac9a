// Integration tests start real containers and servers: a minute per test, not Jest's default 5 s.
// (`testTimeout` in a Jest *project* entry is ignored, so it is set here.)
jest.setTimeout(60_000);
