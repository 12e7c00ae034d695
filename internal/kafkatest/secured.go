package kafkatest

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
)

// Secured is the tests' broker's SASL_SSL listener, as scripts/kafka starts it: its
// address, a TLS config that trusts the CA that signed its certificate, and the PLAIN user
// of its JAAS config (SCRAM users are made with the admin API on the plain listener).
type Secured struct {
	Brokers                []string
	TLS                    *tls.Config
	PlainUser, PlainSecret string
}

// SecuredListener returns the SASL_SSL listener named by KAFKA_SASL_BOOTSTRAP, with the CA
// in the PEM file KAFKA_SASL_CA and the PLAIN user KAFKA_SASL_PLAIN (user:password);
// scripts/test exports all three for the broker it starts, with EDDY_REQUIRE_SASL=1.
// Without them the test skips, unless EDDY_REQUIRE_SASL=1, when it fails.
func SecuredListener(t testing.TB) Secured {
	t.Helper()
	addr, ca, plain := os.Getenv("KAFKA_SASL_BOOTSTRAP"), os.Getenv("KAFKA_SASL_CA"), os.Getenv("KAFKA_SASL_PLAIN")
	if addr == "" || ca == "" || plain == "" {
		msg := "no SASL_SSL listener: set KAFKA_SASL_BOOTSTRAP, KAFKA_SASL_CA and KAFKA_SASL_PLAIN (scripts/test does, for the broker scripts/kafka starts)"
		if os.Getenv("EDDY_REQUIRE_SASL") == "1" {
			t.Fatal("kafkatest: EDDY_REQUIRE_SASL=1 but " + msg)
		}
		t.Skip("kafkatest: " + msg)
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatalf("kafkatest: KAFKA_SASL_CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("kafkatest: KAFKA_SASL_CA %s holds no PEM certificate", ca)
	}
	user, secret, ok := strings.Cut(plain, ":")
	if !ok {
		t.Fatalf("kafkatest: KAFKA_SASL_PLAIN is %q, want user:password", plain)
	}
	return Secured{Brokers: strings.Split(addr, ","), TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, PlainUser: user, PlainSecret: secret}
}
