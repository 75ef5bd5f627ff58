package dashboard

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"

	"github.com/firedrill/firedrill/pkg/log"
)

//go:embed templates
var files embed.FS

// pages are the dashboard's templates: index, plan, login and error, with
// the stylesheet inlined.
var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"css":    func() template.CSS { return stylesheet },
	"maxAge": func() string { return approx(CookieMaxAge) },
}).ParseFS(files, "templates/*.html.tmpl"))

// stylesheet is the pages' CSS, inlined in each.
var stylesheet = template.CSS(mustRead("templates/style.css")) //nolint:gosec // our own stylesheet.

func mustRead(name string) []byte {
	data, err := files.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return data
}

// errorView is an error page.
type errorView struct {
	Title, Message, Hint, User string
	// Login offers the login page rather than the dashboard.
	Login bool
}

// page renders a template into the response with status.
func (d *Dashboard) page(w http.ResponseWriter, r *http.Request, status int, name string, v any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, v); err != nil {
		log.FromContext(r.Context()).Error("dashboard: rendering a page", "page", name, "err", err)
		http.Error(w, "rendering the page failed; the drill serve log says why", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
