package serde_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-streams/eddy/serde"
)

// The registry options reach the registry: basic authentication, a bearer token, TLS
// with the server's CA, and a timeout; a refused credential is an error naming the URL.
func TestRegistryOptions(t *testing.T) {
	registered := func(t *testing.T, fake *srfake.Registry) []byte {
		t.Helper()
		id, _, err := fake.RegisterSchema("users-value", sr.Schema{Schema: userV1Schema, Type: sr.TypeAvro})
		if err != nil {
			t.Fatal(err)
		}
		return []byte{0, 0, 0, 0, byte(id), 6, 'a', 'd', 'a', 72, 2, 'a'}
	}
	read := func(reg *serde.Registry, in []byte) error {
		s, err := serde.AvroConfluent[userV1](reg, serde.AvroSchema(userV1Schema))
		if err != nil {
			return err
		}
		v, err := s.Decode(in)
		if err == nil && v != (userV1{Name: "ada", Age: 36, Nick: "a"}) {
			t.Fatalf("decoded %+v", v)
		}
		return err
	}
	t.Run("basic auth", func(t *testing.T) {
		fake := srfake.New(srfake.WithAuth("Basic " + base64.StdEncoding.EncodeToString([]byte("key:secret"))))
		defer fake.Close()
		in := registered(t, fake)
		good, _ := serde.NewRegistry(serde.RegistryURLs(fake.URL()), serde.RegistryBasicAuth("key", "secret"))
		if err := read(good, in); err != nil {
			t.Fatal(err)
		}
		bad, _ := serde.NewRegistry(serde.RegistryURLs(fake.URL()), serde.RegistryBasicAuth("key", "wrong"))
		if err := read(bad, in); err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), fake.URL()) {
			t.Fatalf("a wrong secret: %v, want a 403 naming the URL", err)
		}
	})
	t.Run("bearer token", func(t *testing.T) {
		fake := srfake.New(srfake.WithAuth("Bearer t0ken"))
		defer fake.Close()
		in := registered(t, fake)
		good, _ := serde.NewRegistry(serde.RegistryURLs(fake.URL()), serde.RegistryBearerToken("t0ken"))
		if err := read(good, in); err != nil {
			t.Fatal(err)
		}
		none, _ := serde.NewRegistry(serde.RegistryURLs(fake.URL()))
		if err := read(none, in); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("no token: %v, want a 401", err)
		}
	})
	t.Run("tls", func(t *testing.T) {
		fake := srfake.NewRegistry()
		srv := httptest.NewTLSServer(fake.Handler())
		defer srv.Close()
		in := registered(t, fake)
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		good, _ := serde.NewRegistry(serde.RegistryURLs(srv.URL), serde.RegistryTLS(&tls.Config{RootCAs: pool}))
		if err := read(good, in); err != nil {
			t.Fatal(err)
		}
		untrusted, _ := serde.NewRegistry(serde.RegistryURLs(srv.URL))
		if err := read(untrusted, in); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("an unknown CA: %v, want a certificate error", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		fake := srfake.New()
		defer fake.Close()
		in := registered(t, fake)
		fake.Intercept(func(w http.ResponseWriter, r *http.Request) bool { time.Sleep(300 * time.Millisecond); return false })
		slow, _ := serde.NewRegistry(serde.RegistryURLs(fake.URL()), serde.RegistryTimeout(50*time.Millisecond))
		start := time.Now()
		if err := read(slow, in); err == nil || time.Since(start) > 250*time.Millisecond {
			t.Fatalf("a slow registry: %v after %v, want an error within the timeout", err, time.Since(start))
		}
	})
	t.Run("no url", func(t *testing.T) {
		if _, err := serde.NewRegistry(); err == nil || !strings.Contains(err.Error(), "RegistryURLs") {
			t.Fatalf("NewRegistry() = %v", err)
		}
	})
}
