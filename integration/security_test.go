package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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
// table topic global and writes out, under exactly-once when eos.
func appGrants(app, in, global, out string, eos bool) []grant {
	var gs []grant
	add := func(kind, name string, prefixed bool, ops ...kadm.ACLOperation) {
		for _, op := range ops {
			gs = append(gs, grant{kind, name, prefixed, op})
		}
	}
	add("topic", in, false, kadm.OpRead, kadm.OpDescribe)
	add("topic", global, false, kadm.OpRead, kadm.OpDescribe, kadm.OpDescribeConfigs)
	add("topic", out, false, kadm.OpWrite, kadm.OpDescribe, kadm.OpDescribeConfigs)
	add("topic", app+"-", true, kadm.OpCreate, kadm.OpRead, kadm.OpWrite, kadm.OpDescribe, kadm.OpDescribeConfigs, kadm.OpDelete)
	add("group", app, false, kadm.OpRead, kadm.OpDescribe)
	if eos {
		add("transactional-id", app+"-", true, kadm.OpWrite, kadm.OpDescribe)
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	res, err := f.adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: f.user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: f.password}})
	if err == nil {
		err = res[f.user].Err
	}
	if err != nil {
		t.Fatalf("creating the SCRAM user: %v", err)
	}
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
		eddy.CommitInterval(200 * time.Millisecond),
	}, opts...)
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
				got[string(rec.Key)] = fmt.Sprint(int64FromBytes(rec.Value))
			}, func() bool { return mapsEqual(got, f.wantCounts) })
			if err := r.stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

func int64FromBytes(b []byte) int64 {
	var n int64
	for _, c := range b {
		n = n<<8 | int64(c)
	}
	return n
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// With a permission of the list missing, Run fails with an error that matches
// eddy.ErrNotAuthorized and names what to grant. (The cases here are those eddy detects
// today: reading the input, the group, the internal topics; writing the internal topics;
// their configs; the transactional ids.)
func TestSecuredClusterWithAPermissionMissing(t *testing.T) {
	f := newSecuredFixture(t)
	principal := "User:" + f.user
	grants := appGrants("APP", f.in, f.global, f.out, true)
	for _, c := range []struct {
		missing grant
		says    func(appID string) string
	}{
		{grant{"topic", f.in, false, kadm.OpRead}, func(string) string { return "grant READ and DESCRIBE on topic " + f.in }},
		{grant{"group", "APP", false, kadm.OpRead}, func(app string) string { return "grant READ and DESCRIBE on group " + app }},
		{grant{"topic", "APP-", true, kadm.OpRead}, func(app string) string { return "grant READ and DESCRIBE on topic " + app + "-" }},
		{grant{"topic", "APP-", true, kadm.OpWrite}, func(app string) string { return "producing to " + app + "-" }},
		{grant{"topic", "APP-", true, kadm.OpDescribeConfigs}, func(app string) string { return "describing changelog topic configs" }},
		{grant{"transactional-id", "APP-", true, kadm.OpWrite}, func(app string) string { return "transactional ids prefixed " + app + "-" }},
	} {
		i := slices.Index(grants, c.missing)
		if i < 0 {
			t.Fatalf("%s is not in the list", c.missing)
		}
		t.Run(strings.ReplaceAll(c.missing.String(), " ", "_"), func(t *testing.T) {
			appID := fmt.Sprintf("%s-app%d", f.prefix, i)
			var bs []*kadm.ACLBuilder
			for j, g := range appGrants(appID, f.in, f.global, f.out, true) {
				if j != i {
					bs = append(bs, g.builder(principal))
				}
			}
			f.createACLs(t, bs...)
			app := f.app(t, appID, eddy.SASLScramSHA512(f.user, f.password), eddy.ExactlyOnce())
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			err := app.Run(ctx)
			t.Logf("without %s: %v", c.missing, err)
			if ctx.Err() != nil {
				t.Fatalf("without %s Run did not fail within 60 s", c.missing)
			}
			if !errors.Is(err, eddy.ErrNotAuthorized) || !strings.Contains(err.Error(), c.says(appID)) {
				t.Errorf("without %s Run = %v, want eddy.ErrNotAuthorized saying %q", c.missing, err, c.says(appID))
			}
		})
	}
}
