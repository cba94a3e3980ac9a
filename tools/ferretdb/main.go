// Command ferretdb runs FerretDB 1.24 with its embedded SQLite backend on a loopback address.
//
// It exists because `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` cannot be used here
// (see docs/architecture.md, Facts the code relies on); the embeddable package works and is all we need for
// dev, test and CI.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("data", "", "directory for the SQLite databases (required)")
	flag.Parse()

	if *dir == "" {
		fmt.Fprintln(os.Stderr, "ferretdb: -data is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: cannot create data dir %s: %v\n", *dir, err)
		os.Exit(1)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *addr},
		Handler:   "sqlite",
		// WAL (FerretDB's default) with synchronous=NORMAL: safe against a crash of any process, fsync at
		// checkpoints instead of every commit, which made each write cost tens of ms here.
		SQLiteURL: "file:" + *dir + "/?_pragma=synchronous(normal)",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	fmt.Fprintf(os.Stderr, "ferretdb: listening on %s, data in %s\n", *addr, *dir)
	f.Run(ctx)
}
