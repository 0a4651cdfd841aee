package mcp

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/osiris-go/osiris/pkg/compile"
	"github.com/osiris-go/osiris/pkg/component"
	"github.com/osiris-go/osiris/pkg/exec"
	"github.com/osiris-go/osiris/pkg/runlog"
)

// Resource URIs:
//
//	osiris://schema/pipeline.json         the pipeline JSON Schema
//	osiris://components/NAME              a component spec (JSON)
//	osiris://pipelines/PATH               a pipeline file (PATH under the pipelines folder)
//	osiris://runs/RUN_ID/status.json      a run's status.json
//	osiris://runs/RUN_ID/report.html     a run's HTML report
const (
	uriSchema     = "osiris://schema/pipeline.json"
	uriComponents = "osiris://components/"
	uriPipelines  = "osiris://pipelines/"
	uriRuns       = "osiris://runs/"
)

// runResourceLimit bounds the runs listed at start; older ones stay
// readable through the template.
const runResourceLimit = 100

func (s *Server) addResources() {
	s.AddResource(&sdk.Resource{URI: uriSchema, Name: "pipeline-schema", Title: "JSON Schema of pipeline files", MIMEType: "application/schema+json"}, s.readResource)
	for _, sp := range component.Specs() {
		s.AddResource(&sdk.Resource{URI: uriComponents + sp.Name, Name: "component " + sp.Name, Description: sp.Description, MIMEType: "application/json"}, s.readResource)
	}
	for _, p := range s.pipelineFiles() {
		s.addPipelineResource(p)
	}
	if runs, _, err := s.store.List(runlog.Filter{Kind: exec.RecordKindRun, Limit: runResourceLimit}); err == nil {
		for _, r := range runs {
			s.addRunResources(r.RunID)
		}
	}
	s.AddResourceTemplate(&sdk.ResourceTemplate{URITemplate: uriPipelines + "{+path}", Name: "pipeline", Description: "a pipeline file of the workspace", MIMEType: "application/yaml"}, s.readResource)
	s.AddResourceTemplate(&sdk.ResourceTemplate{URITemplate: uriRuns + "{run}/status.json", Name: "run status", Description: "a recorded run's status.json (run id, a prefix of one, last or last:PIPELINE)", MIMEType: "application/json"}, s.readResource)
	s.AddResourceTemplate(&sdk.ResourceTemplate{URITemplate: uriRuns + "{run}/report.html", Name: "run report", Description: "a recorded run's report.html", MIMEType: "text/html"}, s.readResource)
}

func (s *Server) pipelineFiles() []string {
	dir := s.ws.Path(s.ws.Config.Paths.Pipelines)
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != dir {
			return filepath.SkipDir
		}
		if ext := filepath.Ext(p); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func (s *Server) addPipelineResource(abs string) {
	rel, err := filepath.Rel(s.ws.Path(s.ws.Config.Paths.Pipelines), abs)
	if err != nil {
		return
	}
	rel = filepath.ToSlash(rel)
	s.AddResource(&sdk.Resource{URI: uriPipelines + rel, Name: "pipeline " + rel, MIMEType: "application/yaml"}, s.readResource)
}

func (s *Server) addRunResources(runID string) {
	if runID == "" {
		return
	}
	s.AddResource(&sdk.Resource{URI: uriRuns + runID + "/status.json", Name: "run " + runID + " status", MIMEType: "application/json"}, s.readResource)
	s.AddResource(&sdk.Resource{URI: uriRuns + runID + "/report.html", Name: "run " + runID + " report", MIMEType: "text/html"}, s.readResource)
}

// readResource serves every resource; nothing outside the workspace is read.
func (s *Server) readResource(_ context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	uri := req.Params.URI
	text, mime, err := s.resourceText(uri)
	if err != nil {
		return nil, err
	}
	return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: uri, MIMEType: mime, Text: s.ws.Masker.Mask(text)}}}, nil
}

func (s *Server) resourceText(uri string) (string, string, error) {
	switch {
	case uri == uriSchema:
		b, err := compile.JSONSchema()
		return string(b), "application/schema+json", err
	case strings.HasPrefix(uri, uriComponents):
		sp, ok := component.Lookup(strings.TrimPrefix(uri, uriComponents))
		if !ok {
			return "", "", sdk.ResourceNotFoundError(uri)
		}
		b, err := json.MarshalIndent(sp, "", "  ")
		return string(b), "application/json", err
	case strings.HasPrefix(uri, uriPipelines):
		rel := strings.TrimPrefix(uri, uriPipelines)
		dir := s.ws.Path(s.ws.Config.Paths.Pipelines)
		for _, seg := range strings.Split(rel, "/") {
			if seg == ".." || seg == "" || strings.HasPrefix(seg, ".") {
				return "", "", sdk.ResourceNotFoundError(uri)
			}
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		real, err := filepath.EvalSymlinks(p)
		realDir, derr := filepath.EvalSymlinks(dir)
		if err != nil || derr != nil || !within(real, realDir) {
			return "", "", sdk.ResourceNotFoundError(uri)
		}
		b, err := os.ReadFile(real)
		if err != nil {
			return "", "", sdk.ResourceNotFoundError(uri)
		}
		return string(b), "application/yaml", nil
	case strings.HasPrefix(uri, uriRuns):
		sel, file, ok := strings.Cut(strings.TrimPrefix(uri, uriRuns), "/")
		if !ok || (file != "status.json" && file != "report.html") {
			return "", "", sdk.ResourceNotFoundError(uri)
		}
		r, _, err := s.store.Select(sel, exec.RecordKindRun, s.opts.Profile)
		if err != nil {
			return "", "", sdk.ResourceNotFoundError(uri)
		}
		b, err := os.ReadFile(filepath.Join(s.store.Dir(r), file))
		if err != nil {
			return "", "", sdk.ResourceNotFoundError(uri)
		}
		mime := "application/json"
		if file == "report.html" {
			mime = "text/html"
		}
		return string(b), mime, nil
	}
	return "", "", sdk.ResourceNotFoundError(uri)
}
