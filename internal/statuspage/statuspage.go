// Package statuspage is the HTML status page an App's Handler serves: the topology drawn
// from its Mermaid description, and a table of the tasks that updates itself from the
// status endpoint. Everything the page needs is embedded (Mermaid too, gzipped, with its
// licence): it loads nothing from elsewhere.
package statuspage

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io"
	"net/http"
	"strings"
)

//go:embed assets/*.html assets/*.css assets/*.js assets/mermaid.LICENSE
var assets embed.FS

// mermaidGz is Mermaid's browser build (see scripts/mermaid for where it comes from).
//
//go:embed assets/mermaid.min.js.gz
var mermaidGz []byte

// Register adds the page to mux: "/" the page, "/assets/" what it loads (and Mermaid's
// licence, /assets/mermaid.LICENSE), "/topology" the topology's Mermaid description (from
// mermaid).
func Register(mux *http.ServeMux, mermaid func() (string, error)) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		serveAsset(w, r, "index.html")
	})
	mux.HandleFunc("GET /assets/{file}", func(w http.ResponseWriter, r *http.Request) {
		serveAsset(w, r, r.PathValue("file"))
	})
	mux.HandleFunc("GET /topology", func(w http.ResponseWriter, _ *http.Request) {
		text, err := mermaid()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, text)
	})
}

var types = map[string]string{
	".html":    "text/html; charset=utf-8",
	".css":     "text/css; charset=utf-8",
	".js":      "text/javascript; charset=utf-8",
	".LICENSE": "text/plain; charset=utf-8",
}

func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if name == "mermaid.min.js" {
		h.Set("Content-Type", types[".js"])
		h.Set("Cache-Control", "max-age=86400")
		h.Set("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.Set("Content-Encoding", "gzip")
			w.Write(mermaidGz)
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(mermaidGz))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.Copy(w, zr)
		return
	}
	ext := name[strings.LastIndexByte(name, '.')+1:]
	typ, ok := types["."+ext]
	if !ok || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", typ)
	h.Set("Cache-Control", "no-cache")
	w.Write(b)
}
