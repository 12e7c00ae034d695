package statuspage

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The routes: the page, its assets with their types, Mermaid gzipped to a browser that
// takes gzip and plain to one that does not, the topology's description, and 404 for
// anything else.
func TestRoutes(t *testing.T) {
	mux := http.NewServeMux()
	Register(mux, func() (string, error) { return "flowchart LR\n  a --> b\n", nil })

	page := get(t, mux, "/")
	if page.StatusCode != 200 || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", page.StatusCode, page.Header.Get("Content-Type"))
	}
	html := body(t, page)
	for _, ref := range []string{`assets/page.js`, `assets/page.css`, `assets/mermaid.min.js`, `id="diagram"`} {
		if !strings.Contains(html, ref) {
			t.Errorf("the page does not have %s", ref)
		}
	}
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") {
		t.Error("the page refers to another site")
	}

	for path, typ := range map[string]string{"/assets/page.js": "text/javascript", "/assets/page.css": "text/css", "/assets/mermaid.LICENSE": "text/plain"} {
		r := get(t, mux, path)
		if b := body(t, r); r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), typ) || b == "" {
			t.Errorf("GET %s: %d %s, %d bytes; want 200 %s", path, r.StatusCode, r.Header.Get("Content-Type"), len(b), typ)
		}
	}

	gz := get(t, mux, "/assets/mermaid.min.js", "Accept-Encoding", "gzip, deflate")
	if gz.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("mermaid to a gzip client: Content-Encoding %q", gz.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(strings.NewReader(body(t, gz)))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	plain := get(t, mux, "/assets/mermaid.min.js")
	if plain.Header.Get("Content-Encoding") != "" || !bytes.Equal([]byte(body(t, plain)), unzipped) {
		t.Error("mermaid to a client without gzip differs from the gzipped build")
	}
	if !bytes.Contains(unzipped, []byte("mermaid")) || len(unzipped) < 1<<20 {
		t.Errorf("mermaid build: %d bytes", len(unzipped))
	}

	top := get(t, mux, "/topology")
	if b := body(t, top); top.StatusCode != 200 || b != "flowchart LR\n  a --> b\n" {
		t.Errorf("GET /topology: %d %q", top.StatusCode, b)
	}
	for _, path := range []string{"/assets/nothing.js", "/assets/mermaid.min.js.gz", "/assets/index", "/other"} {
		if r := get(t, mux, path); r.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, r.StatusCode)
		}
	}

	failing := http.NewServeMux()
	Register(failing, func() (string, error) { return "", errors.New("no topology") })
	if r := get(t, failing, "/topology"); r.StatusCode != 500 || !strings.Contains(body(t, r), "no topology") {
		t.Errorf("GET /topology of a failing description: %d", r.StatusCode)
	}
}
