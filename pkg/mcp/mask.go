package mcp

import (
	"context"
	"encoding/json"
	"reflect"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/osiris-go/osiris/workspace"
)

// maskResults masks every answer the server gives, whatever produced it
// (a tool, a resource, the SDK's own errors): one place, so that no tool
// can forget it.
func (s *Server) maskResults(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
		res, err := next(ctx, method, req)
		if err != nil {
			err = maskedError{msg: s.ws.Masker.Mask(err.Error()), err: err}
		}
		if res != nil {
			res = masked(s.ws.Masker, res)
		}
		return res, err
	}
}

// maskOutgoing masks what the server sends unasked: progress and log
// notifications.
func (s *Server) maskOutgoing(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
		if p := req.GetParams(); p != nil {
			maskInPlace(s.ws.Masker, p)
		}
		return next(ctx, method, req)
	}
}

type maskedError struct {
	msg string
	err error
}

func (e maskedError) Error() string { return e.msg }

// masked returns a copy of v (a pointer to a protocol struct) with every
// string in it masked; v itself is returned when nothing needed masking
// or it does not survive a JSON round trip.
func masked[T any](m *workspace.Masker, v T) T {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return v
	}
	b, err := json.Marshal(v)
	if err != nil || !m.Contains(string(b)) && !containsEscaped(m, b) {
		return v
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return v
	}
	out, err := json.Marshal(maskTree(m, tree))
	if err != nil {
		return v
	}
	fresh := reflect.New(rv.Type().Elem())
	if err := json.Unmarshal(out, fresh.Interface()); err != nil {
		return v
	}
	return fresh.Interface().(T)
}

// maskInPlace masks the strings of *p (a params struct) in place.
func maskInPlace(m *workspace.Masker, p any) {
	fresh := masked(m, p)
	rv := reflect.ValueOf(p)
	if reflect.ValueOf(fresh).Pointer() != rv.Pointer() {
		rv.Elem().Set(reflect.ValueOf(fresh).Elem())
	}
}

// containsEscaped reports whether the decoded strings of b hold a secret
// (a secret with a quote or a backslash is escaped in b).
func containsEscaped(m *workspace.Masker, b []byte) bool {
	var tree any
	if json.Unmarshal(b, &tree) != nil {
		return false
	}
	found := false
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			found = found || m.Contains(x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				found = found || m.Contains(k)
				walk(e)
			}
		}
	}
	walk(tree)
	return found
}

func maskTree(m *workspace.Masker, v any) any {
	switch x := v.(type) {
	case string:
		return m.Mask(x)
	case []any:
		for i, e := range x {
			x[i] = maskTree(m, e)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[m.Mask(k)] = maskTree(m, e)
		}
		return out
	}
	return v
}
