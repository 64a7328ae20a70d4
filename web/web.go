// Package web is the dispatcher and yard console: a single-page application
// whose assets (pinned front-end libraries included) are embedded in the
// revloop binary and served at /. It talks only to the /api/v1 API with the
// token the user signs in with, so every role sees what its token allows.
package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Config is what the console needs to know at run time.
type Config struct {
	// TileURL is the map's tile source, e.g.
	// https://tile.openstreetmap.org/{z}/{x}/{y}.png; empty draws no tiles
	// (sites, fences, tracks and bins are still drawn from GeoJSON).
	TileURL string `json:"tile_url"`
	// TileAttribution is shown in the map corner when tiles are drawn.
	TileAttribution string `json:"tile_attribution"`
}

// DefaultTileURL is the public OpenStreetMap tile server.
const DefaultTileURL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

// Handler serves the console: /config.json, the static assets, and
// index.html for every other path so that deep links work.
func Handler(cfg Config) http.Handler {
	root, _ := fs.Sub(static, "static")
	files := http.FileServer(http.FS(root))
	conf, _ := json.Marshal(cfg)
	index, _ := fs.ReadFile(root, "index.html")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path.Clean("/" + r.URL.Path)
		switch {
		case p == "/config.json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(conf)
		case p != "/" && exists(root, strings.TrimPrefix(p, "/")):
			if strings.HasPrefix(p, "/vendor/") {
				w.Header().Set("Cache-Control", "public, max-age=86400")
			} else {
				w.Header().Set("Cache-Control", "no-cache")
			}
			files.ServeHTTP(w, r)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("Content-Security-Policy", csp(cfg))
			w.Write(index)
		}
	})
}

func exists(root fs.FS, name string) bool {
	st, err := fs.Stat(root, name)
	return err == nil && !st.IsDir()
}

// csp allows only the console's own scripts and, for images, the tile server.
func csp(cfg Config) string {
	img := "'self' data:"
	if cfg.TileURL != "" {
		if i := strings.Index(cfg.TileURL, "/{"); i > 0 {
			img += " " + tileOrigin(cfg.TileURL[:i])
		}
	}
	return "default-src 'self'; img-src " + img + "; style-src 'self' 'unsafe-inline'; connect-src 'self'; script-src 'self'"
}

func tileOrigin(u string) string {
	u = strings.Replace(u, "{s}.", "*.", 1)
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.Index(u[i+3:], "/"); j >= 0 {
			return u[:i+3+j]
		}
	}
	return u
}
