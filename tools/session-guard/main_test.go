package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the guard: run with GUARD_TEST_MAIN=1, it is `visp-session-guard` itself, so the
// tests below start the real program as a process and signal it as Podman would.
func TestMain(m *testing.M) {
	if os.Getenv("GUARD_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// freeAddr is a loopback address nothing listens on (a moment ago).
func freeAddr(t *testing.T) string {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	return listener.Addr().String()
}

// startGuard runs the guard as its own process in front of `command`; the app is expected on `app`.
func startGuard(t *testing.T, token, listen, app string, command ...string) *exec.Cmd {
	args := append([]string{"-listen", listen, "-app", app, "--"}, command...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "GUARD_TEST_MAIN=1", tokenEnv+"="+token)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func exitCode(t *testing.T, cmd *exec.Cmd) int {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		t.Fatal("the guard did not exit")
		return -1
	}
}

func TestExitsWithTheAppsExitCode(t *testing.T) {
	cmd := startGuard(t, testToken, freeAddr(t), freeAddr(t), "sh", "-c", "exit 7")
	if code := exitCode(t, cmd); code != 7 {
		t.Fatalf("exit code %d, want 7", code)
	}
}

func TestForwardsSignalsToTheApp(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			ready := filepath.Join(t.TempDir(), "ready")
			// The app exits with the signal's number once it gets it; it says it is ready to be signalled.
			script := fmt.Sprintf(`trap 'exit %d' %d; touch %s; while :; do sleep 0.02; done`, int(sig), int(sig), ready)
			cmd := startGuard(t, testToken, freeAddr(t), freeAddr(t), "sh", "-c", script)
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if _, err := os.Stat(ready); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the app did not start")
				}
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := exitCode(t, cmd); code != int(sig) {
				t.Fatalf("exit code %d, want %d (the app's, after it got the signal)", code, int(sig))
			}
		})
	}
}

func TestReportsAnAppKilledBySignalAs128PlusN(t *testing.T) {
	cmd := startGuard(t, testToken, freeAddr(t), freeAddr(t), "sh", "-c", "kill -KILL $$")
	if code := exitCode(t, cmd); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit code %d, want %d", code, 128+int(syscall.SIGKILL))
	}
}

func TestServesWhileTheAppRuns(t *testing.T) {
	listen, app := freeAddr(t), freeAddr(t)
	// The app: a server of this test on `app`; the guard's child only keeps it alive.
	cmd := startGuard(t, testToken, listen, app, "sleep", "30")
	upstream := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("app")) })}
	listener, err := net.Listen("tcp", app)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = upstream.Serve(listener) }()
	defer upstream.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		req, _ := http.NewRequest("GET", "http://"+listen+"/", nil)
		req.Header.Set("Authorization", "token "+testToken)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	res, err := http.Get("http://" + listen + "/")
	if err != nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("without the credential: %v %v", res, err)
	}
	// Stopped as Podman stops it: the app gets the signal, and its end is the guard's.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCode(t, cmd); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit code %d, want %d", code, 128+int(syscall.SIGTERM))
	}
}

func TestRefusesToStartTheAppUnguarded(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for name, c := range map[string]struct{ token, listen string }{
		"without a token":       {"", freeAddr(t)},
		"with a short token":    {"short", freeAddr(t)},
		"when it cannot listen": {testToken, taken.Addr().String()},
	} {
		t.Run(name, func(t *testing.T) {
			started := filepath.Join(t.TempDir(), "started")
			cmd := startGuard(t, c.token, c.listen, freeAddr(t), "touch", started)
			if code := exitCode(t, cmd); code != 2 {
				t.Fatalf("exit code %d, want 2", code)
			}
			if _, err := os.Stat(started); err == nil {
				t.Fatal("the app was started")
			}
		})
	}
}
