// visp-session-guard stands in front of a session's app in local mode (`npm start`), where the app's port is
// published on the host's 127.0.0.1 and any local process could otherwise use it: it listens on the guard
// port, starts the app as its child, and forwards to the app only requests that carry the session's credential
// (`Authorization: token $VISP_SESSION_TOKEN`, what the gateway and the readiness probe send). It forwards
// signals to the app and exits with the app's exit code, so the container lives and dies with the app.
//
//	visp-session-guard -listen 0.0.0.0:8007 -app 127.0.0.1:8787 -- <the app's command…>
//
// Static (CGO_ENABLED=0), standard library only: it is bind-mounted read-only into any session image.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// tokenEnv is where the session-manager puts the session's token (libs/sessions TOKEN_ENV).
const tokenEnv = "VISP_SESSION_TOKEN"

// minTokenLength refuses to guard with a token too short to be a session's (24 random bytes, base64url).
const minTokenLength = 16

func main() {
	os.Exit(run(os.Args[1:]))
}

func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "visp-session-guard: "+format+"\n", args...)
	return 2
}

// run returns the exit code: the app's, or 2 when the guard cannot start.
func run(args []string) int {
	flags := flag.NewFlagSet("visp-session-guard", flag.ContinueOnError)
	listen := flags.String("listen", "", "address to serve on, host:port")
	app := flags.String("app", "", "the app's address, host:port (loopback)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	command := flags.Args()
	token := os.Getenv(tokenEnv)
	switch {
	case *listen == "" || *app == "":
		return fail("-listen and -app are required")
	case len(command) == 0:
		return fail("no app command after --")
	case len(token) < minTokenLength:
		return fail("%s is missing or too short", tokenEnv)
	}
	// Listen before the app starts: a guard that cannot serve must not leave the app running unguarded.
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		return fail("%v", err)
	}
	go func() { _ = newServer(newGuard(*app, token)).Serve(listener) }()

	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	code, err := supervise(exec.Command(command[0], command[1:]...), signals)
	if err != nil {
		return fail("%v", err)
	}
	return code
}

// supervise starts the app with the guard's environment, standard streams and working directory, passes on
// every signal that arrives on `signals`, and returns its exit code once it ends: 128+n when signal n ended it,
// as a shell reports it.
func supervise(cmd *exec.Cmd, signals <-chan os.Signal) (int, error) {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-signals:
			_ = cmd.Process.Signal(sig)
		case err := <-done:
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				return 0, err
			}
			status := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if status.Signaled() {
				return 128 + int(status.Signal()), nil
			}
			return status.ExitStatus(), nil
		}
	}
}
