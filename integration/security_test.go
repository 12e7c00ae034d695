package integration

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// grant is one permission of the ACL list README.md gives an operator ("Secured
// clusters"): operation op on a topic, group or transactional id, by literal name or by
// prefix.
type grant struct {
	kind     string // topic, group, transactional-id
	name     string
	prefixed bool
	op       kadm.ACLOperation
	// says is what Run's error says without the permission.
	says string
}

func (g grant) String() string {
	pattern := "literal"
	if g.prefixed {
		pattern = "prefixed"
	}
	return fmt.Sprintf("%s on %s %s (%s)", g.op, g.kind, g.name, pattern)
}

func (g grant) builder(principal string) *kadm.ACLBuilder {
	b := kadm.NewACLs().Allow(principal).AllowHosts("*").Operations(g.op)
	switch g.kind {
	case "topic":
		b = b.Topics(g.name)
	case "group":
		b = b.Groups(g.name)
	default:
		b = b.TransactionalIDs(g.name)
	}
	if g.prefixed {
		return b.ResourcePatternType(kadm.ACLPatternPrefixed)
	}
	return b.ResourcePatternType(kadm.ACLPatternLiteral)
}

// appGrants is README.md's list for an application app that reads in and the global
// table topic global and writes out, under exactly-once when eos. DESCRIBE is not in it:
// Kafka implies it from READ and WRITE.
func appGrants(app, in, global, out string, eos bool) []grant {
	internal := app + "-"
	gs := []grant{
		{"topic", in, false, kadm.OpRead, "the input topics " + in + ": grant READ"},
		{"topic", global, false, kadm.OpRead, "the global table topics " + global + ": grant READ"},
		{"topic", global, false, kadm.OpDescribeConfigs, "configs of the global table topics " + global + ": grant DESCRIBE_CONFIGS"},
		{"topic", out, false, kadm.OpWrite, "the output topics " + out + ": grant WRITE"},
		{"topic", out, false, kadm.OpDescribeConfigs, "configs of the output topics " + out},
		{"topic", internal, true, kadm.OpCreate, "grant it CREATE on the cluster or on topics prefixed"},
		{"topic", internal, true, kadm.OpRead, "grant READ on topic " + internal},
		{"topic", internal, true, kadm.OpWrite, "grant WRITE on topic " + internal},
		{"topic", internal, true, kadm.OpDescribeConfigs, "configs of the changelog topics " + internal},
		{"topic", internal, true, kadm.OpDelete, "grant DELETE on topics prefixed " + internal},
		{"group", app, false, kadm.OpRead, "grant READ on group " + app},
	}
	if eos {
		gs = append(gs, grant{"transactional-id", internal, true, kadm.OpWrite, "grant WRITE on transactional ids prefixed " + internal})
	}
	return gs
}

// securedFixture is a SCRAM user with no permission yet and the topics of the secured
// application, every name under one prefix. The broker opens a resource no ACL names to
// everyone (scripts/kafka), so an ACL on the prefix for the tests' own anonymous clients
// on the plain listener (which write the inputs and read the outputs) fences the names
// in: the application's user has exactly what it is granted.
type securedFixture struct {
	listener           kafkatest.Secured
	adm                *kadm.Client
	prefix             string
	user, password     string
	in, global, out    string
	wantCounts         map[string]string
	inputs, globalRecs []*kgo.Record
}

func newSecuredFixture(t *testing.T) *securedFixture {
	t.Helper()
	f := &securedFixture{listener: kafkatest.SecuredListener(t), adm: kafkatest.Admin(t)}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	f.prefix = "secured-" + hex.EncodeToString(b[:3])
	f.user, f.password = f.prefix+"-user", hex.EncodeToString(b[3:])+"-secret"
	f.in, f.global, f.out = f.prefix+"-in", f.prefix+"-products", f.prefix+"-out"
	f.createUser(t, f.user)
	fence := kadm.NewACLs().Allow("User:ANONYMOUS").AllowHosts("*").Operations(kadm.OpAll).
		Topics(f.prefix).Groups(f.prefix).TransactionalIDs(f.prefix).ResourcePatternType(kadm.ACLPatternPrefixed)
	// The cluster too: else an operation the broker allows on the cluster or on the
	// topic (CreateTopics) would pass without the topic's ACL. The anonymous clients of the
	// other tests keep every cluster permission; the ACL stays for the broker's life.
	clusterFence := kadm.NewACLs().Allow("User:ANONYMOUS").AllowHosts("*").Operations(kadm.OpAll).Clusters()
	f.createACLs(t, fence, clusterFence)
	t.Cleanup(func() {
		all := kadm.NewACLs().Allow().AllowHosts().AnyResource(f.prefix).Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternMatch)
		_, _ = f.adm.DeleteACLs(context.Background(), all)
		_, _ = f.adm.DeleteACLs(context.Background(), fence)
	})

	kafkatest.CreateTopic(t, f.adm, f.in, 2, nil)
	kafkatest.CreateTopic(t, f.adm, f.global, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
	kafkatest.CreateTopic(t, f.adm, f.out, 1, nil)
	products := []string{"apple", "pear", "fig"}
	for i, p := range products {
		f.globalRecs = append(f.globalRecs, &kgo.Record{Topic: f.global, Key: fmt.Appendf(nil, "p%d", i), Value: []byte(p)})
	}
	f.wantCounts = map[string]string{}
	for i := range 30 {
		f.inputs = append(f.inputs, &kgo.Record{Topic: f.in, Key: fmt.Appendf(nil, "o%d", i), Value: fmt.Appendf(nil, "p%d", i%3)})
	}
	for _, p := range products {
		f.wantCounts[p] = "10"
	}
	produceAll(t, append(slices.Clone(f.globalRecs), f.inputs...))
	return f
}

// createUser makes the SCRAM-SHA-512 user with the fixture's password.
func (f *securedFixture) createUser(t *testing.T, user string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := f.adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: f.password}})
	if err == nil {
		err = res[user].Err
	}
	if err != nil {
		t.Fatalf("creating the SCRAM user %s: %v", user, err)
	}
}

func (f *securedFixture) createACLs(t *testing.T, bs ...*kadm.ACLBuilder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, b := range bs {
		res, err := f.adm.CreateACLs(ctx, b)
		if err == nil {
			for _, r := range res {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		if err != nil {
			t.Fatalf("creating ACLs: %v", err)
		}
	}
}

// topology joins the orders with the global products table and counts them by product
// name: an input, a global table, a repartition topic, a changelog and an output.
func (f *securedFixture) topology() *topology.Topology {
	top := topology.New()
	products := topology.GlobalTableFrom(top, f.global, serde.String(), serde.String(), "products")
	orders := topology.From(top, f.in, serde.String(), serde.String())
	named := topology.JoinGlobal(orders, products, func(_, v string) string { return v }, func(_, _, name string) string { return name })
	counts := topology.Count(topology.GroupBy(named, func(_, name string) string { return name }, serde.String(), serde.String()), "counts")
	topology.To(counts.ToStream(), f.out, serde.String(), serde.Int64())
	return top
}

func (f *securedFixture) app(t *testing.T, appID string, opts ...eddy.Opt) *eddy.App {
	t.Helper()
	all := append([]eddy.Opt{
		eddy.ApplicationID(appID),
		eddy.Brokers(f.listener.Brokers...),
		eddy.TLS(f.listener.TLS),
		eddy.StateDir(t.TempDir()),
		eddy.Logger(testLogger(t)),
	}, opts...) // eddy's defaults otherwise: its commit intervals, its 30 s repartition purge
	app, err := eddy.New(f.topology(), all...)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// An application on a secured cluster (TLS, SASL SCRAM-SHA-512 and PLAIN) with exactly
// the ACLs README.md lists and nothing more: it runs, under exactly-once and under the
// default at-least-once, and writes the right counts.
func TestSecuredClusterWithTheDocumentedACLs(t *testing.T) {
	f := newSecuredFixture(t)
	for _, c := range []struct {
		name      string
		principal string
		auth      eddy.Opt
		eos       bool
	}{
		{"scram-sha-512 exactly-once", "User:" + f.user, eddy.SASLScramSHA512(f.user, f.password), true},
		{"plain at-least-once", "User:" + f.listener.PlainUser, eddy.SASLPlain(f.listener.PlainUser, f.listener.PlainSecret), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			appID := fmt.Sprintf("%s-app-%s", f.prefix, strings.Fields(c.name)[0])
			var bs []*kadm.ACLBuilder
			for _, g := range appGrants(appID, f.in, f.global, f.out, c.eos) {
				bs = append(bs, g.builder(c.principal))
			}
			f.createACLs(t, bs...)
			opts := []eddy.Opt{c.auth}
			if c.eos {
				opts = append(opts, eddy.ExactlyOnce())
			}
			r := start(t, f.app(t, appID, opts...))
			got := map[string]string{}
			consumeUntil(t, f.out, 90*time.Second, func(rec *kgo.Record) {
				got[string(rec.Key)] = fmt.Sprint(int64(binary.BigEndian.Uint64(rec.Value)))
			}, func() bool { return maps.Equal(got, f.wantCounts) })
			if err := r.stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

// With any one permission of the list missing, Run fails with an error that matches
// eddy.ErrNotAuthorized and names what to grant. Each case has a user of its own.
func TestSecuredClusterWithAPermissionMissing(t *testing.T) {
	f := newSecuredFixture(t)
	for i, missing := range appGrants("APP", f.in, f.global, f.out, true) {
		t.Run(strings.ReplaceAll(missing.String(), " ", "_"), func(t *testing.T) {
			appID := fmt.Sprintf("%s-app%d", f.prefix, i)
			user := appID + "-user"
			f.createUser(t, user)
			grants := appGrants(appID, f.in, f.global, f.out, true)
			var bs []*kadm.ACLBuilder
			for j, g := range grants {
				if j != i {
					bs = append(bs, g.builder("User:"+user))
				}
			}
			f.createACLs(t, bs...)
			// The defaults: the case without DELETE fails at the first purge, 30 s in.
			app := f.app(t, appID, eddy.SASLScramSHA512(user, f.password), eddy.ExactlyOnce())
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			err := app.Run(ctx)
			t.Logf("without %s: %v", missing, err)
			if ctx.Err() != nil {
				t.Fatalf("without %s Run did not fail within 60 s", missing)
			}
			if want := grants[i].says; !errors.Is(err, eddy.ErrNotAuthorized) || !strings.Contains(err.Error(), want) {
				t.Errorf("without %s Run = %v, want eddy.ErrNotAuthorized saying %q", missing, err, want)
			}
		})
	}

	// READ on the input missing where DESCRIBE is granted: the topic is seen, its fetch
	// is refused.
	t.Run("READ_on_the_input_with_DESCRIBE", func(t *testing.T) {
		appID := f.prefix + "-app-describe"
		user := appID + "-user"
		f.createUser(t, user)
		var bs []*kadm.ACLBuilder
		for _, g := range appGrants(appID, f.in, f.global, f.out, false) {
			if g.name == f.in && g.op == kadm.OpRead {
				g.op = kadm.OpDescribe
			}
			bs = append(bs, g.builder("User:"+user))
		}
		f.createACLs(t, bs...)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		err := f.app(t, appID, eddy.SASLScramSHA512(user, f.password)).Run(ctx)
		if want := "grant READ on topic " + f.in; ctx.Err() != nil || !errors.Is(err, eddy.ErrNotAuthorized) || !strings.Contains(err.Error(), want) {
			t.Errorf("without READ on the input (with DESCRIBE), Run = %v, want eddy.ErrNotAuthorized saying %q", err, want)
		}
	})
}
