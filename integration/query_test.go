package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Interactive queries of a word count under exactly-once, on two instances and then
// three (a rebalance while the queries run): every value a query returns is one a
// committed transaction wrote (each count the output topic holds, read_committed, for
// that word), a key is answered by the instance that holds it and refused by the others
// with ErrNotHere (or ErrNotReady while its task restores), and once the input is
// processed each word's count is exact, on exactly one instance.
func TestInteractiveQueriesSeeOnlyCommittedState(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "lines"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 4, nil)
	kafkatest.CreateTopic(t, adm, out, 4, nil)
	appID := kafkatest.Topic(t, "app")
	launch := func() (*eddy.App, *running) {
		app := newApp(t, wordCountTopology(in, out), appID, eddy.ExactlyOnce())
		return app, start(t, app)
	}
	lines, want := corpus(3000, 11)
	var words []string
	for w := range want {
		words = append(words, w)
	}

	var mu sync.Mutex
	seen := map[string]map[int64]bool{} // word → counts a query returned
	var unexpected []error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	query := func(app *eddy.App) {
		q := eddy.QueryKeyValue(app, "counts", serde.String(), serde.Int64())
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, w := range words {
					n, found, err := q.Get(w)
					mu.Lock()
					switch {
					case err == nil && found:
						if seen[w] == nil {
							seen[w] = map[int64]bool{}
						}
						seen[w][n] = true
					case err == nil, errors.Is(err, eddy.ErrNotHere), errors.Is(err, eddy.ErrNotReady):
					default:
						unexpected = append(unexpected, err)
					}
					mu.Unlock()
				}
			}
		})
	}

	a, ra := launch()
	b, rb := launch()
	waitMembersWithPartitions(t, appID, 2, 60*time.Second)
	if _, _, err := eddy.QueryKeyValue(a, "no-such-store", serde.String(), serde.Int64()).Get("w"); !errors.Is(err, eddy.ErrUnknownStore) {
		t.Errorf("a query of an unknown store: %v, want ErrUnknownStore", err)
	}
	query(a)
	query(b)
	produceLines(t, in, lines[:1500], 0)
	time.Sleep(2 * time.Second)
	c, rc := launch() // a rebalance while the queries run
	query(c)
	produceLines(t, in, lines[1500:], 1500)
	latestCounts(t, out, want)
	waitMembersWithPartitions(t, appID, 3, 60*time.Second)

	// Processed: each word's count is exact on the one instance that has it.
	apps := []*eddy.App{a, b, c}
	deadline := time.Now().Add(30 * time.Second)
	for _, w := range words {
		for {
			var answers []string
			for i, app := range apps {
				n, found, err := eddy.QueryKeyValue(app, "counts", serde.String(), serde.Int64()).Get(w)
				switch {
				case err == nil:
					answers = append(answers, fmt.Sprintf("instance %d: %d (found %v)", i, n, found))
					if !found || n != want[w] {
						answers = append(answers, "wrong")
					}
				case !errors.Is(err, eddy.ErrNotHere) && !errors.Is(err, eddy.ErrNotReady):
					t.Fatalf("query of %s on instance %d: %v", w, i, err)
				}
			}
			if len(answers) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("word %s: answers %v, want its count %d from exactly one instance", w, answers, want[w])
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The instances' local entries together are the whole store, each word once.
	all := map[string]int64{}
	for i, app := range apps {
		entries, err := eddy.QueryKeyValue(app, "counts", serde.String(), serde.Int64()).Local()
		if err != nil {
			t.Fatalf("instance %d: Local: %v", i, err)
		}
		for _, e := range entries {
			if _, dup := all[e.Key]; dup {
				t.Errorf("word %s on two instances", e.Key)
			}
			all[e.Key] = e.Value
		}
	}
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Errorf("the instances' entries together: %v, want %v", all, want)
	}
	close(stop)
	wg.Wait()
	for _, r := range []*running{ra, rb, rc} {
		if err := r.stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	if _, _, err := eddy.QueryKeyValue(a, "counts", serde.String(), serde.Int64()).Get(words[0]); !errors.Is(err, eddy.ErrNotHere) {
		t.Errorf("a query of a stopped instance: %v, want ErrNotHere", err)
	}
	if len(unexpected) > 0 {
		t.Fatalf("%d queries failed otherwise than not here / not ready, the first: %v", len(unexpected), unexpected[0])
	}

	// Every value a query saw is one a committed transaction wrote.
	committed := map[string]map[int64]bool{}
	for _, r := range readCommitted(t, out) {
		n, err := serde.Int64().Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if committed[string(r.Key)] == nil {
			committed[string(r.Key)] = map[int64]bool{}
		}
		committed[string(r.Key)][n] = true
	}
	total := 0
	for w, ns := range seen {
		for n := range ns {
			total++
			if !committed[w][n] {
				t.Errorf("a query saw %s = %d, which no committed transaction wrote", w, n)
			}
		}
	}
	if total < len(words) {
		t.Fatalf("the queries saw %d values, want at least one per word (%d)", total, len(words))
	}
	t.Logf("%d distinct values seen by the queries, each committed", total)
}

// The HTTP handler answers any key on any instance: a key another instance holds is
// forwarded to its advertised address, carrying the caller's Authorization header, and
// answered there; a call that was forwarded already is never forwarded again.
func TestQueryHandlerForwards(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "lines"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 4, nil)
	kafkatest.CreateTopic(t, adm, out, 4, nil)
	appID := kafkatest.Topic(t, "app")
	type instance struct {
		addr string
		run  *running
	}
	var instances []*instance
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		app := newApp(t, wordCountTopology(in, out), appID, eddy.AdvertisedAddress(addr))
		h := eddy.QueryKeyValue(app, "counts", serde.String(), serde.Int64()).Handler(
			func(s string) (string, error) { return s, nil },
			eddy.QueryHandlerOptions{ForwardHeaders: []string{"Authorization"}})
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer s3cret" {
				http.Error(w, "who are you", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		instances = append(instances, &instance{addr: addr, run: start(t, app)})
	}
	waitMembersWithPartitions(t, appID, 2, 60*time.Second)
	lines, want := corpus(1000, 5)
	produceLines(t, in, lines, 0)
	latestCounts(t, out, want)

	get := func(addr, word string, forwarded bool) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/counts?key="+url.QueryEscape(word), nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		if forwarded {
			req.Header.Set("Eddy-Forwarded", "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	deadline := time.Now().Add(30 * time.Second)
	servedBy := map[string]int{}
	for w, n := range want {
		for {
			resp, body := get(instances[0].addr, w, false)
			wantBody := fmt.Sprintf(`{"key":%q,"value":%d}`, w, n)
			if resp.StatusCode == http.StatusOK && body == wantBody {
				servedBy[resp.Header.Get("Eddy-Served-By")]++
				if by := resp.Header.Get("Eddy-Served-By"); by != instances[0].addr {
					// Asked directly, once forwarded, the other instance refuses to pass it on.
					if r2, _ := get(instances[0].addr, w, true); r2.StatusCode != http.StatusServiceUnavailable {
						t.Errorf("a forwarded call for %s, which %s holds, answered %d, want 503", w, by, r2.StatusCode)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s via %s: %d %s, want 200 %s", w, instances[0].addr, resp.StatusCode, body, wantBody)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if servedBy[instances[0].addr] == 0 || servedBy[instances[1].addr] == 0 {
		t.Errorf("answers by instance: %v, want both to have answered some (the others forwarded)", servedBy)
	}
	// Without a key each instance lists its own entries; together, the whole store.
	all := map[string]int64{}
	for _, i := range instances {
		req, _ := http.NewRequest(http.MethodGet, "http://"+i.addr+"/counts", nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Entries []struct {
				Key   string `json:"key"`
				Value int64  `json:"value"`
			} `json:"entries"`
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s/counts: %d, %v", i.addr, resp.StatusCode, err)
		}
		for _, e := range list.Entries {
			all[e.Key] = e.Value
		}
	}
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Errorf("the instances' listings together: %v, want %v", all, want)
	}
	// scope=all: either instance answers the whole store, or a range of it, by asking
	// the other (with the caller's credentials: the other refuses calls without them).
	scan := func(addr, query string) map[string]int64 {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/counts?"+query, nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list struct {
			Entries []struct {
				Key   string `json:"key"`
				Value int64  `json:"value"`
			} `json:"entries"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s/counts?%s: %d, %v", addr, query, resp.StatusCode, err)
		}
		got := map[string]int64{}
		for _, e := range list.Entries {
			if _, dup := got[e.Key]; dup {
				t.Errorf("GET %s/counts?%s lists %s twice", addr, query, e.Key)
			}
			got[e.Key] = e.Value
		}
		return got
	}
	ranged := map[string]int64{}
	for w, n := range want {
		if w >= "w10" && w < "w20" {
			ranged[w] = n
		}
	}
	for _, i := range instances {
		if got := scan(i.addr, "scope=all"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("scope=all via %s: %v, want %v", i.addr, got, want)
		}
		if got := scan(i.addr, "scope=all&from=w10&to=w20"); fmt.Sprint(got) != fmt.Sprint(ranged) {
			t.Errorf("scope=all from w10 to w20 via %s: %v, want %v", i.addr, got, ranged)
		}
		local := scan(i.addr, "from=w10&to=w20")
		for w, n := range local {
			if ranged[w] != n {
				t.Errorf("a local range via %s has %s=%d, want only keys in [w10, w20) with their counts", i.addr, w, n)
			}
		}
	}
	if resp, _ := get(instances[0].addr, "no-such-word", false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a key without a value: %d, want 404", resp.StatusCode)
	}
	for _, i := range instances {
		if err := i.run.stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
}

// A windowed count's open windows, queried on the instance that holds each key.
func TestQueryWindows(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "clicks"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 4, nil)
	kafkatest.CreateTopic(t, adm, out, 4, nil)
	appID := kafkatest.Topic(t, "app")
	top := topology.New()
	grouped := topology.GroupByKey(topology.From(top, in, serde.String(), serde.String()), serde.String(), serde.String())
	counts := topology.WindowedCount(topology.WindowBy(grouped, topology.TumblingWindows(time.Hour)), "wcounts")
	topology.To(counts, out, topology.WindowedSerde(serde.String()), serde.Int64())
	var apps []*eddy.App
	var runs []*running
	for range 2 {
		app := newApp(t, top, appID)
		apps, runs = append(apps, app), append(runs, start(t, app))
	}
	waitMembersWithPartitions(t, appID, 2, 60*time.Second)
	hour := time.Now().Truncate(time.Hour)
	var recs []*kgo.Record
	for i := range 200 {
		recs = append(recs, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "user-%d", i%10), Value: []byte("click"), Timestamp: hour.Add(time.Duration(i) * time.Second)})
	}
	produceAll(t, recs)
	ends.WaitCaughtUp(t, kafkatest.Bootstrap(t), appID, 90*time.Second, in)
	for k := range 10 {
		key := fmt.Sprintf("user-%d", k)
		deadline := time.Now().Add(30 * time.Second)
		for {
			var answers []string
			for i, app := range apps {
				ws, err := eddy.QueryWindows(app, "wcounts", serde.String(), serde.Int64()).Fetch(key)
				switch {
				case err == nil:
					answers = append(answers, fmt.Sprintf("instance %d: %v", i, ws))
					if len(ws) != 1 || ws[0].Value != 20 || !ws[0].Start.Equal(hour) || !ws[0].End.Equal(hour.Add(time.Hour)) {
						answers = append(answers, "wrong")
					}
				case !errors.Is(err, eddy.ErrNotHere) && !errors.Is(err, eddy.ErrNotReady):
					t.Fatalf("Fetch(%s) on instance %d: %v", key, i, err)
				}
			}
			if len(answers) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: answers %v, want its one window of 20 from exactly one instance", key, answers)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if _, _, err := eddy.QueryKeyValue(apps[0], "wcounts", serde.String(), serde.Int64()).Get("user-1"); !errors.Is(err, eddy.ErrUnknownStore) {
		t.Errorf("a key-value query of a window store: %v, want ErrUnknownStore", err)
	}
	for _, r := range runs {
		if err := r.stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
}
