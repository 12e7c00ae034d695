package eddy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// Handler serves lookups of the store over HTTP: GET with ?key=<k> (parseKey reads k)
// answers {"key": "<k>", "value": <the value as JSON>}, or 404 when the key has no
// value; GET without a key answers this instance's entries (KeyValueQuery.Local) as
// {"entries": [{"key": …, "value": …}, …]}, with 503 when some of its tasks are
// restoring. A key that lives on another instance is forwarded to its AdvertisedAddress
// (same path and query), so a client may ask any instance; 503 with Retry-After when the
// key's task is restoring or between owners, 400 for a key parseKey refuses. The
// handler exposes application data: eddy mounts it nowhere, the service decides where
// (and behind which authentication) it serves it.
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
			q.serveLocal(w)
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

// serveLocal answers the entries this instance holds.
func (q *KeyValueQuery[K, V]) serveLocal(w http.ResponseWriter) {
	entries, err := q.Local()
	if err != nil {
		queryError(w, err)
		return
	}
	type entry struct {
		Key   K `json:"key"`
		Value V `json:"value"`
	}
	out := struct {
		Entries []entry `json:"entries"`
	}{Entries: make([]entry, len(entries))}
	for i, e := range entries {
		out.Entries[i] = entry(e)
	}
	body, err := json.Marshal(out)
	if err != nil {
		http.Error(w, fmt.Sprintf("store %s: entries without a JSON form: %v", q.name, err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(servedByHeader, q.app.cfg.advertised)
	_, _ = w.Write(body)
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
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header.Set(forwardedHeader, "1")
	for _, h := range opts.ForwardHeaders {
		for _, v := range r.Header.Values(h) {
			req.Header.Add(h, v)
		}
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
