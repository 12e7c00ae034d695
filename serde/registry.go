package serde

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// Registry is a client of a Confluent-compatible Schema Registry (Confluent's, Apicurio's
// ccompat API, Redpanda's) shared by the serdes that frame records with schema ids. It
// caches what it learns: a schema is fetched once per id, and an id once per subject and
// schema, so no request is made per record once a serde has seen a schema. It is safe for
// concurrent use.
type Registry struct {
	cl          *sr.Client
	urls        []string
	timeout     time.Duration
	notFoundFor time.Duration // how long an id the registry did not know stays unknown

	mu struct {
		sync.Mutex
		byID     map[int]*schemaFetch // guarded: the fetch of each id, done or under way
		notFound int                  // guarded: the "not found" answers kept in byID, about
	}
}

// RegistryOpt configures NewRegistry.
type RegistryOpt interface{ apply(*registryConfig) }

type registryConfig struct {
	urls    []string
	user    string
	pass    string
	token   string
	tls     *tls.Config
	timeout time.Duration
	httpcl  *http.Client
}

type registryOpt func(*registryConfig)

func (o registryOpt) apply(c *registryConfig) { o(c) }

// RegistryURLs sets the registry's URLs (required), tried in order; a URL without a
// scheme is taken as http://.
func RegistryURLs(urls ...string) RegistryOpt {
	return registryOpt(func(c *registryConfig) { c.urls = append(c.urls, urls...) })
}

// RegistryBasicAuth sends HTTP basic authentication with every request (Confluent
// Cloud's API key and secret, for example).
func RegistryBasicAuth(user, password string) RegistryOpt {
	return registryOpt(func(c *registryConfig) { c.user, c.pass = user, password })
}

// RegistryBearerToken sends "Authorization: Bearer <token>" with every request.
func RegistryBearerToken(token string) RegistryOpt {
	return registryOpt(func(c *registryConfig) { c.token = token })
}

// RegistryTLS sets the TLS configuration for https URLs (CA, client certificates).
func RegistryTLS(cfg *tls.Config) RegistryOpt {
	return registryOpt(func(c *registryConfig) { c.tls = cfg })
}

// RegistryTimeout bounds each request to the registry (default 10 s).
func RegistryTimeout(d time.Duration) RegistryOpt {
	return registryOpt(func(c *registryConfig) { c.timeout = d })
}

// RegistryHTTPClient sets the HTTP client (default: one of its own, with the timeout of
// RegistryTimeout); RegistryTLS applies to it, which needs its Transport to be an
// *http.Transport or nil, and replaces that Transport with a copy carrying the TLS
// configuration.
func RegistryHTTPClient(cl *http.Client) RegistryOpt {
	return registryOpt(func(c *registryConfig) { c.httpcl = cl })
}

// NewRegistry returns a client of the registry at the URLs RegistryURLs gives. It makes no
// request: an unreachable registry shows at the first schema a serde needs, as an error
// naming the URL and the subject or id.
func NewRegistry(opts ...RegistryOpt) (*Registry, error) {
	cfg := registryConfig{timeout: 10 * time.Second}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if len(cfg.urls) == 0 {
		return nil, errors.New("serde: registry: no URL (use RegistryURLs)")
	}
	if cfg.timeout <= 0 {
		return nil, fmt.Errorf("serde: registry: RegistryTimeout must be positive, got %v", cfg.timeout)
	}
	if cfg.token != "" && (cfg.user != "" || cfg.pass != "") {
		return nil, errors.New("serde: registry: RegistryBasicAuth and RegistryBearerToken both set; a request carries one Authorization header")
	}
	httpcl := cfg.httpcl
	if httpcl == nil {
		httpcl = &http.Client{Timeout: cfg.timeout}
	}
	srOpts := []sr.ClientOpt{sr.URLs(append([]string(nil), cfg.urls...)...), sr.HTTPClient(httpcl), sr.UserAgent("eddy")}
	if cfg.user != "" || cfg.pass != "" {
		srOpts = append(srOpts, sr.BasicAuth(cfg.user, cfg.pass))
	}
	if cfg.token != "" {
		srOpts = append(srOpts, sr.BearerToken(cfg.token))
	}
	if cfg.tls != nil {
		srOpts = append(srOpts, sr.DialTLSConfig(cfg.tls))
	}
	cl, err := sr.NewClient(srOpts...)
	if err != nil {
		return nil, fmt.Errorf("serde: registry: %w", err)
	}
	r := &Registry{cl: cl, urls: cfg.urls, timeout: cfg.timeout, notFoundFor: 10 * time.Second}
	r.mu.byID = map[int]*schemaFetch{}
	return r, nil
}

// schemaFetch is one fetch of a schema by id: done closes when sch and err are set.
// expires is set, under Registry.mu, for an id that was not found.
type schemaFetch struct {
	done    chan struct{}
	sch     sr.Schema
	err     error
	expires time.Time
}

// ErrSchemaNotFound is wrapped by the errors for a schema id or subject the registry does
// not know. For a record, the error goes through the bad-input policy; retrying does not
// help until the schema is registered.
var ErrSchemaNotFound = errors.New("not found in the registry")

// ErrRegistryUnavailable is wrapped by the errors of requests the registry did not answer
// about the schema: it could not be reached, timed out, refused the credentials (401,
// 403) or failed (5xx). The record is not at fault, so eddy does not apply a bad-input
// policy to it (which would skip or dead-letter every record while the registry is down):
// Run stops with the error, naming the record, and a restart resumes from the last commit.
var ErrRegistryUnavailable = errors.New("the schema registry is unavailable")

// schemaByID returns the schema registered under id, fetching it once: concurrent callers
// wait for the same request, and later ones get the cached answer. An id that is not found
// is remembered for ten seconds (a record with a garbage id costs no request of its own,
// and a schema registered since, or a registry that lags, is found after it); any other
// failure (an unreachable registry) is not remembered, so the next record tries again.
// Ids below 1 are never a registry's: they are not found without asking.
func (r *Registry) schemaByID(ctx context.Context, id int) (sr.Schema, error) {
	if id <= 0 {
		return sr.Schema{}, fmt.Errorf("serde: registry: schema id %d: %w (ids start at 1)", id, ErrSchemaNotFound)
	}
	now := time.Now()
	r.mu.Lock()
	f, ok := r.mu.byID[id]
	if ok && f.expires.Before(now) && !f.expires.IsZero() {
		ok = false // a stale "not found": ask again
	}
	if !ok {
		f = &schemaFetch{done: make(chan struct{})}
		r.mu.byID[id] = f
	}
	r.mu.Unlock()
	if ok {
		select {
		case <-f.done:
			return f.sch, f.err
		case <-ctx.Done():
			return sr.Schema{}, fmt.Errorf("schema id %d: %w", id, ctx.Err())
		}
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	f.sch, f.err = r.cl.SchemaByID(ctx, id)
	if f.err != nil {
		f.err = r.explain(fmt.Sprintf("schema id %d", id), f.err)
		r.mu.Lock()
		if errors.Is(f.err, ErrSchemaNotFound) {
			f.expires = now.Add(r.notFoundFor)
			if r.mu.notFound++; r.mu.notFound > maxNotFound {
				r.forgetNotFoundLocked() // garbage ids must not grow the cache without bound
			}
		} else {
			delete(r.mu.byID, id)
		}
		r.mu.Unlock()
	}
	close(f.done)
	return f.sch, f.err
}

// maxNotFound bounds the unknown ids remembered.
const maxNotFound = 1024

// forgetNotFoundLocked drops every remembered "not found" whose fetch is done.
func (r *Registry) forgetNotFoundLocked() {
	for id, f := range r.mu.byID {
		select {
		case <-f.done:
			if !f.expires.IsZero() {
				delete(r.mu.byID, id)
			}
		default:
		}
	}
	r.mu.notFound = 0
}

// explain turns a registry client's error into one that names what was asked for and
// where, wrapping ErrSchemaNotFound for a 404.
func (r *Registry) explain(what string, err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		switch code := re.StatusCode; {
		case code == http.StatusNotFound:
			return fmt.Errorf("serde: registry %s: %s: %w (%s)", re.URL, what, ErrSchemaNotFound, re.Message)
		case code == http.StatusUnauthorized || code == http.StatusForbidden || code >= 500:
			return fmt.Errorf("serde: registry %s: %s: %w: HTTP %d: %w", re.URL, what, ErrRegistryUnavailable, code, re)
		}
		return fmt.Errorf("serde: registry %s: %s: HTTP %d: %w", re.URL, what, re.StatusCode, re)
	}
	return fmt.Errorf("serde: registry %v: %s: %w: %w", r.urls, what, ErrRegistryUnavailable, err)
}

// idFor returns the id under which subject has sch, registering it first when register is
// set (the registry then checks its compatibility rules).
func (r *Registry) idFor(ctx context.Context, subject string, sch sr.Schema, register bool) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var (
		id  int
		err error
	)
	if register {
		id, err = r.cl.RegisterSchema(ctx, subject, sch, -1, -1) // one request; CreateSchema makes two more
	} else {
		var ss sr.SubjectSchema
		ss, err = r.cl.LookupSchema(ctx, subject, sch)
		id = ss.ID
	}
	if err != nil {
		how := "looking up the schema under subject " + subject + " (it must be registered first, or use AutoRegister)"
		if register {
			how = "registering the schema under subject " + subject
		}
		return 0, r.explain(how, err)
	}
	return id, nil
}

// latest returns the latest version of subject's schema and its id.
func (r *Registry) latest(ctx context.Context, subject string) (sr.SubjectSchema, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	ss, err := r.cl.SchemaByVersion(ctx, subject, -1)
	if err != nil {
		return ss, r.explain("the latest schema of subject "+subject, err)
	}
	return ss, nil
}

// versionOf returns the version under which subject has sch (a reference names one).
func (r *Registry) versionOf(ctx context.Context, subject string, sch sr.Schema) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	ss, err := r.cl.LookupSchema(ctx, subject, sch)
	if err != nil {
		return 0, r.explain("looking up the version of the schema under subject "+subject, err)
	}
	return ss.Version, nil
}
