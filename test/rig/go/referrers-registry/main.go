// A registry WITH the OCI 1.1 referrers API for kiln's tests: go-containerregistry's
// pkg/registry with WithReferrersSupport(true) (crane's `registry serve` leaves it off), blobs
// on disk. Debian's docker-registry 2.8 has no referrers API, so the two registries together
// cover both paths (API, and the sha256-<hex> tag fallback).
//
// Known deviations of pkg/registry from distribution-spec v1.1 (see docs/signing.md):
// no OCI-Subject header on a manifest PUT with a subject; the referrers list carries the
// config's mediaType as artifactType (not the manifest's artifactType) and no annotations;
// no ?artifactType= filtering; 404 NAME_UNKNOWN for a repository it has never seen.
//
// Usage: kiln-referrers-registry -addr 127.0.0.1:PORT -blobs DIR
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	blobs := flag.String("blobs", "", "directory for blobs (default: in memory)")
	referrers := flag.Bool("referrers", true, "serve GET /v2/<name>/referrers/<digest>")
	verbose := flag.Bool("v", false, "log every request to stderr")
	flag.Parse()

	logger := log.New(io.Discard, "", 0)
	if *verbose {
		logger = log.New(os.Stderr, "", log.LstdFlags)
	}
	opts := []registry.Option{registry.Logger(logger), registry.WithReferrersSupport(*referrers)}
	if *blobs != "" {
		if err := os.MkdirAll(*blobs, 0o755); err != nil {
			log.Fatal(err)
		}
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(*blobs)))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	os.Stdout.WriteString("listening on " + ln.Addr().String() + "\n")
	log.Fatal(http.Serve(ln, registry.New(opts...)))
}
