package main

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Scheme is what the credential starts with: the gateway sends `Authorization: token <session token>`, as
// Jupyter expects it, and so does the session-manager's readiness probe.
const scheme = "token "

// forbidden is all a request without the credential learns: nothing about the app, not even whether it is up.
const forbidden = "forbidden\n"

// authorized says whether a request carries the session's credential. The header is read as net/http parsed
// it, which is also how it is forwarded: names are case-insensitive (`authorization` and `AUTHORIZATION` are
// one header), so a request that sends it twice, in any spellings, has two values and is refused, as is one
// value holding a list ("token a, token b"). The comparison takes the same time whatever the value holds.
func authorized(h http.Header, want []byte) bool {
	values := h.Values("Authorization")
	if len(values) != 1 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(values[0]), want) == 1
}

// newGuard is the HTTP handler in front of the app at `app` (host:port): requests with the credential go on,
// with their headers (Authorization included: Jupyter checks it too), streamed both ways; WebSocket and other
// upgrades become a tunnel once the app answers 101. Anything else gets 403 and never reaches the app.
func newGuard(app string, token string) http.Handler {
	want := []byte(scheme + token)
	target := &url.URL{Scheme: "http", Host: app}
	proxy := &httputil.ReverseProxy{
		// Rewrite, not Director: the outbound request is the inbound one re-pointed at the app, its Host
		// header kept (Jupyter compares it with a WebSocket's Origin) and X-Forwarded-* left as the gateway
		// sent them (Rewrite alone would drop them; SetURL would replace Host).
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = target.Scheme
			r.Out.URL.Host = target.Host
			r.Out.Host = r.In.Host
			for _, name := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v, ok := r.In.Header[name]; ok {
					r.Out.Header[name] = v
				}
			}
		},
		Transport: &http.Transport{
			// Never a proxy from the environment: the app is on loopback.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			// The body as the app sent it: no transparent gzip in between.
			DisableCompression: true,
		},
		// Copy buffers reused across requests rather than 32 KiB allocated for each one.
		BufferPool: &bufferPool{pool: sync.Pool{New: func() any { return make([]byte, 32*1024) }}},
		// Negative: every write is flushed at once (server-sent events, long polls, streamed downloads).
		FlushInterval: -1,
		// Quiet: while the app starts, the readiness probe's refused connections would fill the container's
		// log, whose last lines the session-manager shows when a start fails.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("the app is not answering\n"))
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r.Header, want) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(forbidden))
			return
		}
		proxy.ServeHTTP(w, r)
	})
}

// newServer serves the guard; no read or write deadlines (WebSocket and streams last), only one for the
// request head, so a connection that never finishes its headers is dropped.
func newServer(handler http.Handler) *http.Server {
	return &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
}

// bufferPool is httputil.BufferPool over a sync.Pool.
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte  { return p.pool.Get().([]byte) }
func (p *bufferPool) Put(b []byte) { p.pool.Put(b) }
