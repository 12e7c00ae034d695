package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// clientOpts are the options of a client on the brokers: the seeds, TLS and SASL.
func (c *clusterFlags) clientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.seeds()...)}
	cfg, mech, err := c.security()
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

// admin is an admin client on the brokers; close it when done.
func (c *clusterFlags) admin() (*kadm.Client, func(), error) {
	opts, err := c.clientOpts()
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("a client for %s: %w", c.brokers, err)
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// security is the TLS configuration (nil: none) and the SASL mechanism (nil: none) the
// flags ask for.
func (c *clusterFlags) security() (*tls.Config, sasl.Mechanism, error) {
	var cfg *tls.Config
	if c.tls || c.tlsCA != "" {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		if c.tlsCA != "" {
			pem, err := os.ReadFile(c.tlsCA)
			if err != nil {
				return nil, nil, fmt.Errorf("-tls-ca: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("-tls-ca %s: no PEM certificate in it", c.tlsCA)
			}
		}
	}
	var mech sasl.Mechanism
	switch c.saslMechanism {
	case "PLAIN":
		mech = plain.Auth{User: c.saslUser, Pass: c.saslPassword}.AsMechanism()
	case "SCRAM-SHA-256":
		mech = scram.Auth{User: c.saslUser, Pass: c.saslPassword}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		mech = scram.Auth{User: c.saslUser, Pass: c.saslPassword}.AsSha512Mechanism()
	}
	return cfg, mech, nil
}

// internalSuffixes are the endings of the topics eddy makes for an application, after
// "<application id>-".
var internalSuffixes = []string{"-repartition", "-changelog", "-subscription-registration-topic", "-subscription-response-topic", "-control"}

// isInternal reports whether topic is one of app's internal topics.
func isInternal(app, topic string) bool {
	if !strings.HasPrefix(topic, app+"-") {
		return false
	}
	for _, s := range internalSuffixes {
		if strings.HasSuffix(topic, s) {
			return true
		}
	}
	return false
}

// partitionLag is one partition of a group's committed offsets against its end.
type partitionLag struct {
	topic     string
	partition int32
	committed int64
	end       int64
}

// groupLag lists the group's committed offsets and the ends of their partitions (the
// last stable offsets: what a read_committed consumer reaches; the same as the high
// watermark without transactions), by topic and partition.
func groupLag(ctx context.Context, adm *kadm.Client, group string) ([]partitionLag, error) {
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("the committed offsets of group %s: %w", group, err)
	}
	if err := offs.Error(); err != nil {
		return nil, fmt.Errorf("the committed offsets of group %s: %w", group, err)
	}
	topics := offs.KOffsets()
	if len(topics) == 0 {
		return nil, nil
	}
	ends, err := adm.ListCommittedOffsets(ctx, slices.Sorted(mapKeys(topics))...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("the end offsets of the group's topics: %w", err)
	}
	var out []partitionLag
	offs.Each(func(o kadm.OffsetResponse) {
		e, _ := ends.Lookup(o.Topic, o.Partition)
		out = append(out, partitionLag{topic: o.Topic, partition: o.Partition, committed: o.At, end: e.Offset})
	})
	slices.SortFunc(out, func(a, b partitionLag) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	return out, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// clusterCommand parses a cluster command's flags (extra adds its own) and runs body with
// an admin client on the brokers, within the -timeout.
func clusterCommand(ctx context.Context, name, synopsis string, args []string, stderr io.Writer, extra func(*flag.FlagSet),
	body func(ctx context.Context, c *clusterFlags, adm *kadm.Client) error) error {
	var c clusterFlags
	fs := newFlags(name, synopsis, stderr)
	c.add(fs)
	if extra != nil {
		extra(fs)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	adm, closeAdm, err := c.admin()
	if err != nil {
		return err
	}
	defer closeAdm()
	return body(ctx, &c, adm)
}

func cmdLag(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return clusterCommand(ctx, "lag", "-brokers host:port -app <application id>", args, stderr, nil, func(ctx context.Context, c *clusterFlags, adm *kadm.Client) error {
		return printLag(ctx, c, adm, stdout)
	})
}

func printLag(ctx context.Context, c *clusterFlags, adm *kadm.Client, stdout io.Writer) error {
	lags, err := groupLag(ctx, adm, c.app)
	if err != nil {
		return err
	}
	if len(lags) == 0 {
		return fmt.Errorf("group %s has no committed offsets: the application has not committed yet, or its id is another", c.app)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG")
	var total int64
	for _, l := range lags {
		lag := max(l.end-l.committed, 0)
		total += lag
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", l.topic, l.partition, l.committed, l.end, lag)
	}
	fmt.Fprintf(tw, "total\t\t\t\t%d\n", total)
	return tw.Flush()
}

func cmdTopics(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return clusterCommand(ctx, "topics", "-brokers host:port -app <application id>", args, stderr, nil, func(ctx context.Context, c *clusterFlags, adm *kadm.Client) error {
		return printTopics(ctx, c, adm, stdout, stderr)
	})
}

func printTopics(ctx context.Context, c *clusterFlags, adm *kadm.Client, stdout, stderr io.Writer) error {
	topics, err := internalTopics(ctx, adm, c.app)
	if err != nil {
		return err
	}
	if len(topics) == 0 {
		fmt.Fprintf(stdout, "application %s has no internal topics\n", c.app)
		return nil
	}
	configs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return fmt.Errorf("the configs of %s's topics: %w", c.app, err)
	}
	sizes := map[string]int64{}
	if dirs, err := adm.DescribeAllLogDirs(ctx, kadm.TopicsSet(nil)); err == nil {
		dirs.Each(func(d kadm.DescribedLogDir) {
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) { sizes[p.Topic] += p.Size })
		})
	} else {
		fmt.Fprintf(stderr, "eddy topics: sizes not known: %v\n", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("the end offsets of %s's topics: %w", c.app, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tRECORDS\tBYTES\tCLEANUP\tRETENTION")
	for _, t := range topics {
		var parts int
		var records int64
		ends.Each(func(o kadm.ListedOffset) {
			if o.Topic == t {
				parts++
				records += o.Offset
			}
		})
		cleanup, retention := "?", "?"
		if rc, err := configs.On(t, nil); err == nil {
			for _, kv := range rc.Configs {
				switch kv.Key {
				case "cleanup.policy":
					cleanup = kv.MaybeValue()
				case "retention.ms":
					retention = kv.MaybeValue() + " ms"
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", t, parts, records, sizes[t], cleanup, retention)
	}
	return tw.Flush()
}

// internalTopics lists app's internal topics, sorted.
func internalTopics(ctx context.Context, adm *kadm.Client, app string) ([]string, error) {
	details, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	var out []string
	for name := range details {
		if isInternal(app, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

func cmdReset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c clusterFlags
	fs := newFlags("reset", "-brokers host:port -app <application id> [-to earliest|latest|<time>] [-input t1,t2] [-state-dir dir] [-dry-run]", stderr)
	c.add(fs)
	to := fs.String("to", "earliest", "where the inputs start again: earliest, latest, or a time (RFC 3339, e.g. 2026-01-02T15:04:05Z)")
	inputs := fs.String("input", "", "the input topics, comma-separated (default: the non-internal topics the group has offsets for)")
	stateDir := fs.String("state-dir", "", "a local state directory (eddy.StateDir) whose state of the application to delete")
	dryRun := fs.Bool("dry-run", false, "list what would be done, and do nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	var at int64
	switch *to {
	case "earliest", "latest":
	default:
		t, err := time.Parse(time.RFC3339, *to)
		if err != nil {
			return fmt.Errorf("%w: -to %q: earliest, latest or an RFC 3339 time", errUsage, *to)
		}
		at = t.UnixMilli()
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	adm, closeAdm, err := c.admin()
	if err != nil {
		return err
	}
	defer closeAdm()
	groups, err := adm.DescribeGroups(ctx, c.app)
	if err != nil {
		return fmt.Errorf("describing group %s: %w", c.app, err)
	}
	if g, ok := groups[c.app]; ok && g.Err == nil && len(g.Members) > 0 {
		return fmt.Errorf("group %s has %d members: stop every instance of the application first (a reset of a running group would be undone by its commits)",
			c.app, len(g.Members))
	}
	// The inputs: given, or what the group has offsets for.
	var topics []string
	if *inputs != "" {
		for _, t := range strings.Split(*inputs, ",") {
			if t = strings.TrimSpace(t); t != "" {
				topics = append(topics, t)
			}
		}
	}
	offs, err := adm.FetchOffsets(ctx, c.app)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("the committed offsets of group %s: %w", c.app, err)
	}
	// The group's offsets of internal topics go with the topics.
	stale := kadm.TopicsSet{}
	for t, ps := range offs.KOffsets() {
		switch {
		case isInternal(c.app, t):
			for p := range ps {
				stale.Add(t, p)
			}
		case *inputs == "":
			topics = append(topics, t)
		}
	}
	slices.Sort(topics)
	internal, err := internalTopics(ctx, adm, c.app)
	if err != nil {
		return err
	}
	var offsets kadm.ListedOffsets
	if len(topics) > 0 {
		switch *to {
		case "earliest":
			offsets, err = adm.ListStartOffsets(ctx, topics...)
		case "latest":
			offsets, err = adm.ListEndOffsets(ctx, topics...)
		default:
			offsets, err = adm.ListOffsetsAfterMilli(ctx, at, topics...)
		}
		if err == nil {
			err = offsets.Error()
		}
		if err != nil {
			return fmt.Errorf("the %s offsets of %s: %w", *to, strings.Join(topics, ", "), err)
		}
	}
	dir := ""
	if *stateDir != "" {
		dir = filepath.Join(*stateDir, c.app)
	}
	verb := ""
	if *dryRun {
		verb = "would "
	}
	// The plan, in the order it is carried out.
	reset := kadm.Offsets{}
	offsets.Each(func(o kadm.ListedOffset) {
		reset.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.Offset, LeaderEpoch: -1})
		fmt.Fprintf(stdout, "%sreset %s/%d to %d (%s)\n", verb, o.Topic, o.Partition, o.Offset, *to)
	})
	for _, t := range internal {
		fmt.Fprintf(stdout, "%sdelete topic %s\n", verb, t)
	}
	for _, t := range stale.Sorted() {
		fmt.Fprintf(stdout, "%sdelete the group's offsets of %s\n", verb, t.Topic)
	}
	if dir != "" {
		fmt.Fprintf(stdout, "%sdelete local state %s\n", verb, dir)
	}
	if len(reset) == 0 && len(internal) == 0 && dir == "" {
		fmt.Fprintf(stdout, "nothing to reset for %s: no committed offsets, no internal topics\n", c.app)
	}
	if *dryRun {
		return nil
	}
	if len(reset) > 0 {
		resp, err := adm.CommitOffsets(ctx, c.app, reset)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("committing the reset offsets of group %s: %w", c.app, err)
		}
	}
	if len(stale) > 0 {
		resp, err := adm.DeleteOffsets(ctx, c.app, stale)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("deleting group %s's offsets of its internal topics: %w", c.app, err)
		}
	}
	if len(internal) > 0 {
		resp, err := adm.DeleteTopics(ctx, internal...)
		if err != nil {
			return fmt.Errorf("deleting %s's internal topics: %w", c.app, err)
		}
		for _, r := range resp.Sorted() {
			if r.Err != nil {
				return fmt.Errorf("deleting topic %s: %w", r.Topic, r.Err)
			}
		}
	}
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("deleting local state %s: %w", dir, err)
		}
	}
	fmt.Fprintf(stdout, "reset %s: start it again to process its inputs from %s\n", c.app, *to)
	return nil
}
