package httpapi

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// docsPage renders the OpenAPI document as one self-contained HTML page: no
// scripts from a CDN, so it works on an installation without Internet access.
func (s *Server) docsPage(w http.ResponseWriter, r *http.Request) {
	doc := s.api.OpenAPI()
	type param struct{ Name, In, Desc string }
	type operation struct {
		Method, Path, Summary, Description, ID string
		Params                                 []param
		Request                                string
		Responses                              []string
	}
	groups := map[string][]operation{}
	for path, item := range doc.Paths {
		for method, o := range map[string]*huma.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete} {
			if o == nil {
				continue
			}
			op := operation{Method: method, Path: path, Summary: o.Summary, Description: o.Description, ID: o.OperationID}
			for _, p := range o.Parameters {
				op.Params = append(op.Params, param{Name: p.Name, In: p.In, Desc: p.Description})
			}
			if o.RequestBody != nil {
				if mt := o.RequestBody.Content["application/json"]; mt != nil && mt.Schema != nil {
					op.Request = schemaText(doc, mt.Schema)
				}
			}
			codes := make([]string, 0, len(o.Responses))
			for code := range o.Responses {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			op.Responses = codes
			tag := "Other"
			if len(o.Tags) > 0 {
				tag = o.Tags[0]
			}
			groups[tag] = append(groups[tag], op)
		}
	}
	type group struct {
		Tag string
		Ops []operation
	}
	var gs []group
	for tag, ops := range groups {
		sort.Slice(ops, func(i, j int) bool {
			if ops[i].Path != ops[j].Path {
				return ops[i].Path < ops[j].Path
			}
			return ops[i].Method < ops[j].Method
		})
		gs = append(gs, group{Tag: tag, Ops: ops})
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].Tag < gs[j].Tag })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_ = docsTemplate.Execute(w, map[string]any{"Title": doc.Info.Title, "Version": doc.Info.Version,
		"Description": doc.Info.Description, "Groups": gs})
}

// schemaText renders a request schema with its $refs resolved, as indented JSON.
func schemaText(doc *huma.OpenAPI, sch *huma.Schema) string {
	var resolve func(s *huma.Schema, depth int) any
	resolve = func(s *huma.Schema, depth int) any {
		if s == nil || depth > 6 {
			return nil
		}
		if s.Ref != "" {
			s = doc.Components.Schemas.SchemaFromRef(s.Ref)
			if s == nil {
				return nil
			}
		}
		switch s.Type {
		case huma.TypeObject:
			m := map[string]any{}
			for name, p := range s.Properties {
				m[name] = resolve(p, depth+1)
			}
			return m
		case huma.TypeArray:
			return []any{resolve(s.Items, depth+1)}
		}
		t := s.Type
		if len(s.Enum) > 0 {
			var vals []string
			for _, e := range s.Enum {
				b, _ := json.Marshal(e)
				vals = append(vals, string(b))
			}
			t += " (" + strings.Join(vals, " | ") + ")"
		}
		if s.Format != "" {
			t += " <" + s.Format + ">"
		}
		return t
	}
	b, _ := json.MarshalIndent(resolve(sch, 0), "", "  ")
	return string(b)
}

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} {{.Version}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1d2433}
h1{margin-bottom:0}h2{border-bottom:1px solid #ccd;margin-top:2em}
.op{border:1px solid #dde;border-radius:6px;margin:1em 0;padding:.6em 1em}
.m{display:inline-block;min-width:4.5em;font-weight:bold;font-family:monospace}
.GET{color:#17663a}.POST{color:#1f4fa8}.PUT{color:#8a5a00}.DELETE{color:#a1261e}
code,pre{background:#f4f5f9;border-radius:4px}pre{padding:.6em;overflow:auto}
td{padding:.1em .8em .1em 0;vertical-align:top}
</style></head><body>
<h1>{{.Title}}</h1><p>Version {{.Version}} · <a href="/v2/openapi.json">OpenAPI 3.1 document</a> · <a href="/v2/openapi.yaml">YAML</a></p>
<pre>{{.Description}}</pre>
{{range .Groups}}<h2>{{.Tag}}</h2>{{range .Ops}}<div class="op" id="{{.ID}}">
<div><span class="m {{.Method}}">{{.Method}}</span><code>{{.Path}}</code> — {{.Summary}}</div>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Params}}<table>{{range .Params}}<tr><td><code>{{.Name}}</code></td><td>{{.In}}</td><td>{{.Desc}}</td></tr>{{end}}</table>{{end}}
{{if .Request}}<details><summary>Request body</summary><pre>{{.Request}}</pre></details>{{end}}
<div>Responses: {{range .Responses}}<code>{{.}}</code> {{end}}</div>
</div>{{end}}{{end}}
</body></html>`))
