module github.com/visp/session-host/tools/session-guard

go 1.24
