package eddy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// QueryHandlerOptions configure KeyValueQuery.Handler. The zero value forwards over
// plain HTTP with a 10-second timeout and carries no header of the caller's.
type QueryHandlerOptions struct {
	// Client makes the calls to other instances: give it a TLS configuration (and set
	// Scheme "https") when the instances serve over TLS. Default: a client with a
	// 10-second timeout.
	Client *http.Client
	// Scheme of the other instances' addresses: "http" (default) or "https".
	Scheme string
	// ForwardHeaders are the caller's headers a forwarded call carries, such as
	// "Authorization", so the instance that answers checks the caller's credentials.
	ForwardHeaders []string
}

// forwardedHeader marks a forwarded call: the instance that receives one answers it or
// refuses it, and never forwards it again (two instances with stale assignments would
// otherwise pass it back and forth).
const forwardedHeader = "Eddy-Forwarded"

// servedByHeader names the instance (its AdvertisedAddress) that answered.
const servedByHeader = "Eddy-Served-By"

// Handler serves lookups and range scans of the store over HTTP. GET with ?key=<k>
// (parseKey reads k) answers {"key": "<k>", "value": <the value as JSON>}, or 404 when
// the key has no value; a key that lives on another instance is forwarded to its
// AdvertisedAddress (same path and query), so a client may ask any instance. GET
// without a key scans: this instance's entries (KeyValueQuery.Local) as {"entries":
// [{"key": …, "value": …}, …]}, only those from ?from=<k> (included) to ?to=<k>
// (excluded) when given (KeyValueQuery.Range), and with ?scope=all the whole store's:
// this instance asks every other one the last assignment names (which needs every
// instance's AdvertisedAddress) and answers all entries, each instance's in Range's
// order. 503 with Retry-After when a task is restoring or between owners (a scan is
// whole or refused, never silently partial), 400 for a key parseKey refuses. The
// handler exposes application data: eddy mounts it nowhere, the service decides where
// (and behind which authentication) it serves it; calls to other instances carry
// opts.ForwardHeaders.
func (q *KeyValueQuery[K, V]) Handler(parseKey func(string) (K, error), opts QueryHandlerOptions) http.Handler {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Scheme == "" {
		opts.Scheme = "http"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		if !r.URL.Query().Has("key") {
			lo, hi, err := q.bounds(parseKey, r.URL.Query())
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if r.URL.Query().Get("scope") == "all" && r.Header.Get(forwardedHeader) == "" {
				q.serveAll(w, r, lo, hi, opts)
				return
			}
			q.serveLocal(w, lo, hi)
			return
		}
		text := r.URL.Query().Get("key")
		key, err := parseKey(text)
		if err != nil {
			http.Error(w, fmt.Sprintf("key %q: %v", text, err), http.StatusBadRequest)
			return
		}
		value, found, err := q.Get(key)
		switch {
		case errors.Is(err, ErrNotHere) && r.Header.Get(forwardedHeader) == "":
			loc, lerr := q.Location(key)
			if lerr != nil || loc.Endpoint == "" || loc.Local {
				unavailable(w, fmt.Sprintf("store %s: the instance holding key %q is not known now (a rebalance?)", q.name, text))
				return
			}
			q.forward(w, r, loc.Endpoint, opts)
			return
		case err != nil:
			queryError(w, err)
			return
		case !found:
			w.Header().Set(servedByHeader, q.app.cfg.advertised)
			http.Error(w, fmt.Sprintf("store %s: no value for key %q", q.name, text), http.StatusNotFound)
			return
		}
		body, err := json.Marshal(struct {
			Key   string `json:"key"`
			Value V      `json:"value"`
		}{text, value})
		if err != nil {
			http.Error(w, fmt.Sprintf("store %s: the value of key %q has no JSON form: %v", q.name, text, err), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(servedByHeader, q.app.cfg.advertised)
		_, _ = w.Write(body)
	})
}

// bounds reads a scan's from and to parameters (each optional) as encoded keys.
func (q *KeyValueQuery[K, V]) bounds(parseKey func(string) (K, error), v url.Values) (lo, hi []byte, err error) {
	bound := func(name string) ([]byte, error) {
		if !v.Has(name) {
			return nil, nil
		}
		key, err := parseKey(v.Get(name))
		if err != nil {
			return nil, fmt.Errorf("%s %q: %v", name, v.Get(name), err)
		}
		b, err := q.ks.AppendEncode([]byte{}, key)
		if err != nil {
			return nil, fmt.Errorf("%s %q: encoding: %v", name, v.Get(name), err)
		}
		return b, nil
	}
	if lo, err = bound("from"); err == nil {
		hi, err = bound("to")
	}
	return lo, hi, err
}

// entryList is the JSON answer of a scan.
type entryList struct {
	Entries []json.RawMessage `json:"entries"`
}

// serveLocal answers the entries this instance holds with keys in [lo, hi).
func (q *KeyValueQuery[K, V]) serveLocal(w http.ResponseWriter, lo, hi []byte) {
	entries, err := q.local(lo, hi)
	if err != nil {
		queryError(w, err)
		return
	}
	q.writeEntries(w, entries)
}

// local is the entries here with keys in [lo, hi), each in its JSON form.
func (q *KeyValueQuery[K, V]) local(lo, hi []byte) ([]json.RawMessage, error) {
	entries, err := q.scan(lo, hi)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(entries))
	for i, e := range entries {
		b, err := json.Marshal(struct {
			Key   K `json:"key"`
			Value V `json:"value"`
		}{e.Key, e.Value})
		if err != nil {
			return nil, fmt.Errorf("eddy: store %s: an entry without a JSON form: %w", q.name, err)
		}
		out[i] = b
	}
	return out, nil
}

func (q *KeyValueQuery[K, V]) writeEntries(w http.ResponseWriter, entries []json.RawMessage) {
	if entries == nil {
		entries = []json.RawMessage{}
	}
	body, _ := json.Marshal(entryList{Entries: entries}) // raw messages marshal as they are
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(servedByHeader, q.app.cfg.advertised)
	_, _ = w.Write(body)
}

// serveAll answers the entries of the whole store with keys in [lo, hi): this instance's
// and those of every other instance the last assignment names, asked with the same
// request (scope local). Every partition must have a known instance, and every instance
// must answer: a scan that cannot be whole is 503, to be retried, not a silent part.
func (q *KeyValueQuery[K, V]) serveAll(w http.ResponseWriter, r *http.Request, lo, hi []byte, opts QueryHandlerOptions) {
	endpoints := q.app.monitor.Endpoints(q.name)
	if endpoints == nil {
		q.serveLocal(w, lo, hi) // not running, or no such store: its error says which
		return
	}
	var others []string
	for p, e := range endpoints {
		switch {
		case e == "":
			unavailable(w, fmt.Sprintf("store %s: no instance is known for partition %d now (moving, or its instance advertises no address)", q.name, p))
			return
		case e != q.app.cfg.advertised && !slices.Contains(others, e):
			others = append(others, e)
		}
	}
	all, err := q.local(lo, hi)
	if err != nil {
		queryError(w, err)
		return
	}
	v := r.URL.Query()
	v.Set("scope", "local")
	for _, e := range others {
		u := url.URL{Scheme: opts.Scheme, Host: e, Path: r.URL.Path, RawQuery: v.Encode()}
		status, body, err := q.call(r, u.String(), opts)
		if err != nil {
			http.Error(w, fmt.Sprintf("store %s: asking %s for its entries: %v", q.name, e, err), http.StatusBadGateway)
			return
		}
		if status != http.StatusOK {
			w.Header().Set("Retry-After", "1")
			http.Error(w, fmt.Sprintf("store %s: %s answered %d: %s", q.name, e, status, strings.TrimSpace(string(body))), status)
			return
		}
		var list entryList
		if err := json.Unmarshal(body, &list); err != nil {
			http.Error(w, fmt.Sprintf("store %s: the entries of %s: %v", q.name, e, err), http.StatusBadGateway)
			return
		}
		all = append(all, list.Entries...)
	}
	q.writeEntries(w, all)
}

// call makes a forwarded GET of u with the caller's forwarded headers and returns the
// answer.
func (q *KeyValueQuery[K, V]) call(r *http.Request, u string, opts QueryHandlerOptions) (int, []byte, error) {
	req, err := forwarded(r, u, opts)
	if err != nil {
		return 0, nil, err
	}
	resp, err := opts.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// queryError answers a failed query: 503 (retry) when the key's task is elsewhere or
// restoring, or the instance is not running; 404 for an unknown store; 500 otherwise.
func queryError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotHere), errors.Is(err, ErrNotReady):
		unavailable(w, err.Error())
	case errors.Is(err, ErrUnknownStore):
		http.Error(w, err.Error(), http.StatusNotFound)
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, msg, http.StatusServiceUnavailable)
}

// forward asks the instance at endpoint the same request and copies its answer.
func (q *KeyValueQuery[K, V]) forward(w http.ResponseWriter, r *http.Request, endpoint string, opts QueryHandlerOptions) {
	u := url.URL{Scheme: opts.Scheme, Host: endpoint, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	req, err := forwarded(r, u.String(), opts)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := opts.Client.Do(req)
	if err != nil {
		http.Error(w, fmt.Sprintf("store %s: forwarding to %s: %v", q.name, endpoint, err), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Retry-After", servedByHeader} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// forwarded is a GET of u on behalf of r: marked forwarded, with r's ForwardHeaders, ended
// with r.
func forwarded(r *http.Request, u string, opts QueryHandlerOptions) (*http.Request, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(forwardedHeader, "1")
	for _, h := range opts.ForwardHeaders {
		for _, v := range r.Header.Values(h) {
			req.Header.Add(h, v)
		}
	}
	return req, nil
}
