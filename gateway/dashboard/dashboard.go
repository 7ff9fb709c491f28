// Package dashboard embeds the browser dashboard (built from web/ by `make dashboard`, output
// committed in dist/ so a fresh clone needs no npm) and serves it.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed dist
var files embed.FS

// Path is where the gateway serves the dashboard.
const Path = "/dashboard/"

// Handler serves the dashboard's files under Path.
func Handler() http.Handler {
	dist, err := fs.Sub(files, "dist")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.StripPrefix(Path, http.FileServer(http.FS(dist)))
}
