package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testToken = "s3cret-session-token-0123456789"

// app is a stand-in for a session's app: it counts the requests it got, echoes their Authorization header,
// and turns an Upgrade into an echo tunnel (what a WebSocket becomes once open).
type app struct {
	server   *httptest.Server
	requests atomic.Int32
}

func newApp(t *testing.T) *app {
	a := &app{}
	a.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		if r.Header.Get("Upgrade") == "websocket" {
			conn, rw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			fmt.Fprint(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			rw.Flush()
			_, _ = io.Copy(conn, rw)
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s auth=%q host=%s body=%s", r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Host, body)
	}))
	t.Cleanup(a.server.Close)
	return a
}

// guarded starts a guard in front of `a` and returns its address.
func guarded(t *testing.T, a *app) string {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := newServer(newGuard(a.server.Listener.Addr().String(), testToken))
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(func() { _ = server.Close() })
	return listener.Addr().String()
}

// raw sends a request exactly as written (header names and repeats as given) and returns the status line and
// the rest of what came back before the guard or the app stopped writing.
func raw(t *testing.T, addr, request string) (string, string) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	return res.Status, string(body)
}

func TestHeaderRules(t *testing.T) {
	a := newApp(t)
	addr := guarded(t, a)
	good := "token " + testToken
	cases := []struct {
		name    string
		headers string
		status  string
	}{
		{"the credential", "Authorization: " + good + "\r\n", "200 OK"},
		{"the credential, header name in lower case (as the gateway sends it)", "authorization: " + good + "\r\n", "200 OK"},
		{"the credential, header name in upper case", "AUTHORIZATION: " + good + "\r\n", "200 OK"},
		{"no credential", "", "403 Forbidden"},
		{"a wrong token", "Authorization: token wrong-token-0123456789abcdef\r\n", "403 Forbidden"},
		{"an empty header", "Authorization: \r\n", "403 Forbidden"},
		{"the token without the scheme", "Authorization: " + testToken + "\r\n", "403 Forbidden"},
		{"another scheme", "Authorization: Bearer " + testToken + "\r\n", "403 Forbidden"},
		{"the scheme capitalised", "Authorization: Token " + testToken + "\r\n", "403 Forbidden"},
		{"the token with a character more", "Authorization: " + good + "x\r\n", "403 Forbidden"},
		{"the token a character short", "Authorization: " + good[:len(good)-1] + "\r\n", "403 Forbidden"},
		{"the token in another case", "Authorization: token " + strings.ToUpper(testToken) + "\r\n", "403 Forbidden"},
		{"the header twice with the credential", "Authorization: " + good + "\r\nAuthorization: " + good + "\r\n", "403 Forbidden"},
		{"the header twice in two spellings", "Authorization: " + good + "\r\nauthorization: token wrong\r\n", "403 Forbidden"},
		{"a wrong one and the credential", "authorization: token wrong\r\nAuthorization: " + good + "\r\n", "403 Forbidden"},
		{"the credential twice in one value", "Authorization: " + good + ", " + good + "\r\n", "403 Forbidden"},
		{"the credential in another header", "X-Authorization: " + good + "\r\n", "403 Forbidden"},
		{"the credential as a query parameter", "", "403 Forbidden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := a.requests.Load()
			for _, method := range []string{"GET", "POST"} {
				path := "/x?token=" + testToken
				status, body := raw(t, addr, method+" "+path+" HTTP/1.1\r\nHost: session\r\n"+c.headers+"Content-Length: 4\r\nConnection: close\r\n\r\nbody")
				if status != c.status {
					t.Fatalf("%s: status %q, want %q (body %q)", method, status, c.status, body)
				}
				if c.status == "403 Forbidden" && body != forbidden {
					t.Fatalf("%s: body %q", method, body)
				}
				if c.status == "200 OK" && body != fmt.Sprintf("%s %s auth=%q host=session body=body", method, path, good) {
					t.Fatalf("%s: the app saw %q", method, body)
				}
			}
			forwarded := a.requests.Load() - before
			if want := map[bool]int32{true: 2, false: 0}[c.status == "200 OK"]; forwarded != want {
				t.Fatalf("the app got %d requests, want %d", forwarded, want)
			}
		})
	}
}

func TestWebSocketPassesOnlyWithTheCredential(t *testing.T) {
	a := newApp(t)
	addr := guarded(t, a)
	upgrade := "GET /ws HTTP/1.1\r\nHost: session\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

	status, _ := raw(t, addr, upgrade+"Authorization: token wrong\r\n\r\n")
	if status != "403 Forbidden" || a.requests.Load() != 0 {
		t.Fatalf("without the credential: %q, %d requests reached the app", status, a.requests.Load())
	}

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(conn, upgrade+"authorization: token "+testToken+"\r\n\r\n")
	reader := bufio.NewReader(conn)
	res, err := http.ReadResponse(reader, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	// Both ways, several times: a tunnel, not one buffered exchange.
	for _, message := range []string{"hello", "again"} {
		fmt.Fprint(conn, message)
		got := make([]byte, len(message))
		if _, err := io.ReadFull(reader, got); err != nil || string(got) != message {
			t.Fatalf("echo: %q %v", got, err)
		}
	}
}

func TestStreamsWithoutBuffering(t *testing.T) {
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: second\n\n")
	}))
	defer upstream.Close()
	defer close(release)
	a := &app{server: upstream}
	addr := guarded(t, a)
	req, _ := http.NewRequest("GET", "http://"+addr+"/events", nil)
	req.Header.Set("Authorization", "token "+testToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("the first event did not arrive before the stream ended: %q %v", line, err)
	}
}

func TestKeepAliveChecksEveryRequest(t *testing.T) {
	a := newApp(t)
	addr := guarded(t, a)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	reader := bufio.NewReader(conn)
	// One connection: a request with the credential, then one without; the second must not ride on the first.
	for _, c := range []struct{ auth, status string }{{"Authorization: token " + testToken + "\r\n", "200 OK"}, {"", "403 Forbidden"}, {"Authorization: token " + testToken + "\r\n", "200 OK"}} {
		fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: session\r\n"+c.auth+"\r\n")
		res, err := http.ReadResponse(reader, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		if res.Status != c.status {
			t.Fatalf("%q: %s", c.auth, res.Status)
		}
	}
	if a.requests.Load() != 2 {
		t.Fatalf("the app got %d requests, want 2", a.requests.Load())
	}
}

func TestAppNotAnsweringIs502(t *testing.T) {
	listener, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := listener.Addr().String()
	listener.Close()
	a := &app{server: &httptest.Server{Listener: fakeListener(closed)}}
	addr := guarded(t, a)
	status, _ := raw(t, addr, "GET / HTTP/1.1\r\nHost: s\r\nAuthorization: token "+testToken+"\r\nConnection: close\r\n\r\n")
	if status != "502 Bad Gateway" {
		t.Fatalf("status %q", status)
	}
}

// fakeListener only carries an address, for a guard pointed at a port nothing listens on.
type fakeListener string

func (l fakeListener) Accept() (net.Conn, error) { return nil, io.EOF }
func (l fakeListener) Close() error              { return nil }
func (l fakeListener) Addr() net.Addr            { addr, _ := net.ResolveTCPAddr("tcp", string(l)); return addr }
