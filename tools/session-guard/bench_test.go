package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The guard's cost per request: the same small GET over keep-alive connections, straight to an app and
// through the guard (`go test -bench . -benchtime 5s`). The difference is what every proxied request pays.
func benchmarkGets(b *testing.B, url string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "token "+testToken)
		for pb.Next() {
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}

func benchApp(b *testing.B) *httptest.Server {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) }))
	b.Cleanup(app.Close)
	return app
}

func BenchmarkDirect(b *testing.B) {
	benchmarkGets(b, benchApp(b).URL+"/")
}

func BenchmarkGuarded(b *testing.B) {
	app := benchApp(b)
	guard := httptest.NewServer(newGuard(app.Listener.Addr().String(), testToken))
	b.Cleanup(guard.Close)
	benchmarkGets(b, guard.URL+"/")
}
