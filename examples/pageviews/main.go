// Command pageviews is eddy's event-time example: windowed page-view counts per browser
// from an out-of-order stream, beside stateless filtering, enrichment and routing.
//
//	go run ./examples/pageviews                 # on an in-process broker, until Ctrl-C
//	go run ./examples/pageviews -brokers host:9092 -duration 30s
//	go run ./examples/pageviews -http :8080     # and /metrics, /healthz, /readyz, /status on :8080
//
// A built-in generator writes page views (JSON) to "page-views"; each view's event time
// (viewed_at) is 1–5 s before it is written, so the stream is out of order. The topology:
//
//   - counts views per browser in 1 s event-time windows (5 s allowed out-of-orderness),
//     each window's count emitted once, when the watermark passes it: "views-per-second";
//   - drops bot traffic, tags each view with the site section from its URL, and splits
//     the stream: slow views (over 1 s) go to "slow-page-views" keyed by user; the others
//     are re-keyed by section and repartitioned, so each section's views land in one
//     partition of "page-views-by-section".
//
// The program prints what arrives on the output topics.
//
// Without -brokers (or KAFKA_BOOTSTRAP) it starts the embedded in-process cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// PageView is one input record.
type PageView struct {
	User     string `json:"user"`
	URL      string `json:"url"`
	Browser  string `json:"browser"`
	LoadMS   int    `json:"load_ms"`
	ViewedAt int64  `json:"viewed_at"`
}

// Enriched is a page view with its site section.
type Enriched struct {
	PageView
	Section string `json:"section"`
}

const (
	inputTopic   = "page-views"
	slowTopic    = "slow-page-views"
	sectionTopic = "page-views-by-section"
	perSecTopic  = "views-per-second"
)

// Build returns the example's topology.
func Build() *topology.Topology {
	t := topology.New()
	views := topology.From(t, inputTopic, serde.String(), serde.JSON[PageView](), topology.Named("page-views"),
		topology.Timestamps(func(_ string, v PageView, _ time.Time) (time.Time, error) { return time.UnixMilli(v.ViewedAt), nil }),
		topology.OutOfOrderness(5*time.Second), topology.IdleTimeout(5*time.Second))
	byBrowser := topology.GroupBy(views, func(_ string, v PageView) string { return v.Browser }, serde.String(), serde.JSON[PageView](),
		topology.Named("by-browser"))
	perSecond := topology.WindowedCount(topology.WindowBy(byBrowser, topology.TumblingWindows(time.Second)), "views-per-second")
	topology.To(perSecond, perSecTopic, topology.WindowedSerde(serde.String()), serde.Int64())
	humans := views.FilterNot(func(_ string, v PageView) bool { return v.Browser == "bot" }, topology.Named("drop-bots"))
	enriched := topology.MapValues(humans, func(v PageView) Enriched {
		return Enriched{PageView: v, Section: section(v.URL)}
	}, topology.Named("add-section"))
	speed := enriched.Split("speed",
		topology.Branch[string, Enriched]{Name: "slow", Predicate: func(_ string, v Enriched) bool { return v.LoadMS > 1000 }},
		topology.Branch[string, Enriched]{Name: "fast"},
	)
	topology.To(speed[0], slowTopic, serde.String(), serde.JSON[Enriched]())
	bySection := topology.SelectKey(speed[1], func(_ string, v Enriched) string { return v.Section }, topology.Named("key-by-section"))
	grouped := topology.Repartition(bySection, serde.String(), serde.JSON[Enriched](), topology.Named("by-section"))
	topology.To(grouped, sectionTopic, serde.String(), serde.JSON[Enriched]())
	return t
}

// section is the first path element of a URL: "/shop/cart" → "shop".
func section(url string) string {
	s := strings.TrimPrefix(url, "/")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return "home"
	}
	return s
}

func main() {
	brokers := flag.String("brokers", os.Getenv("KAFKA_BOOTSTRAP"), "Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP, else an in-process broker)")
	duration := flag.Duration("duration", 0, "stop after this long (default: run until Ctrl-C)")
	rate := flag.Int("rate", 20, "page views generated per second")
	stateDir := flag.String("state-dir", filepath.Join(os.TempDir(), "eddy-pageviews"),
		"directory for local state; each copy running on one machine needs its own")
	httpAddr := flag.String("http", "", "serve the status page and endpoints (/, /metrics, /healthz, /readyz, /status) on this address, e.g. :8080")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if err := run(ctx, *brokers, *rate, *stateDir, *httpAddr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pageviews:", err)
		os.Exit(1)
	}
}

// run sets up the topics, then runs the generator, the app and the printer until ctx ends.
func run(ctx context.Context, brokerList string, rate int, stateDir, httpAddr string, out io.Writer) error {
	var brokers []string
	if brokerList == "" {
		c, err := embedded.Start()
		if err != nil {
			return err
		}
		defer c.Close()
		brokers = c.Brokers()
		fmt.Fprintf(out, "no brokers given: running on an in-process broker at %s\n", brokers[0])
	} else {
		brokers = strings.Split(brokerList, ",")
	}
	if err := createTopics(ctx, brokers); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	app, err := eddy.New(Build(),
		eddy.ApplicationID("pageviews-example"),
		eddy.Brokers(brokers...),
		eddy.CommitInterval(time.Second),
		eddy.StateDir(stateDir),
		eddy.Logger(logger),
		eddy.ServeHTTP(httpAddr),
	)
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, f := range []func(context.Context) error{
		app.Run,
		func(ctx context.Context) error { return generate(ctx, brokers, rate) },
		func(ctx context.Context) error { return printOutputs(ctx, brokers, out) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return errors.Join(func() (all []error) {
		for err := range errs {
			all = append(all, err)
		}
		return all
	}()...)
}

func createTopics(ctx context.Context, brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resps, err := adm.CreateTopics(ctx, 3, -1, nil, inputTopic, slowTopic, sectionTopic, perSecTopic)
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil && !strings.Contains(r.Err.Error(), "TOPIC_ALREADY_EXISTS") {
			return fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

var (
	users    = []string{"ada", "grace", "linus", "barbara", "ken", "margaret", "dennis"}
	urls     = []string{"/", "/shop/cart", "/shop/item/42", "/blog/eddy-1-0", "/docs/windows", "/docs/state", "/account"}
	browsers = []string{"firefox", "chrome", "safari", "bot"}
)

// generate writes rate page views per second until ctx ends.
func generate(ctx context.Context, brokers []string, rate int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(inputTopic))
	if err != nil {
		return err
	}
	defer cl.Close()
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer tick.Stop()
	js := serde.JSON[PageView]()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			v := PageView{
				User:     users[rand.IntN(len(users))],
				URL:      urls[rand.IntN(len(urls))],
				Browser:  browsers[rand.IntN(len(browsers))],
				LoadMS:   50 + rand.IntN(1500),
				ViewedAt: now.Add(-time.Duration(1000+rand.IntN(4000)) * time.Millisecond).UnixMilli(),
			}
			b, err := js.AppendEncode(nil, v)
			if err != nil {
				return err
			}
			cl.Produce(ctx, &kgo.Record{Key: []byte(v.User), Value: b, Timestamp: now}, nil)
		}
	}
}

// printOutputs prints the records of both output topics as they arrive.
func printOutputs(ctx context.Context, brokers []string, out io.Writer) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(slowTopic, sectionTopic, perSecTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		return err
	}
	defer cl.Close()
	js := serde.JSON[Enriched]()
	ws := topology.WindowedSerde(serde.String())
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Topic == perSecTopic {
				w, err1 := ws.Decode(r.Key)
				n, err2 := serde.Int64().Decode(r.Value)
				if err := errors.Join(err1, err2); err != nil {
					fmt.Fprintf(out, "undecodable record in %s/%d@%d: %v\n", r.Topic, r.Partition, r.Offset, err)
					return
				}
				fmt.Fprintf(out, "WINDOW %s %-8s %d views\n", w.Start.UTC().Format("15:04:05"), w.Key, n)
				return
			}
			v, err := js.Decode(r.Value)
			if err != nil {
				fmt.Fprintf(out, "undecodable record in %s/%d@%d: %v\n", r.Topic, r.Partition, r.Offset, err)
				return
			}
			if r.Topic == slowTopic {
				fmt.Fprintf(out, "SLOW  %-9s %-16s %5d ms  %s\n", v.User, v.URL, v.LoadMS, v.Browser)
			} else {
				fmt.Fprintf(out, "view  section=%-8s partition=%d  %-9s %s\n", v.Section, r.Partition, v.User, v.URL)
			}
		})
	}
}
