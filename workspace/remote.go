package workspace

import (
	"fmt"
	"sort"
	"strings"
)

// ResolveRemote returns the sandbox name with ${VAR} expanded in its
// string values. An empty name picks the one marked default, else the
// only one, else "local": [remote.local] when configured, else a plain
// local sandbox (spec 04).
func (w *Workspace) ResolveRemote(name string) (*RemoteConfig, error) {
	r, err := w.pickRemote(name)
	if err != nil {
		return nil, err
	}
	out := *r
	out.SSHOptions = append([]string(nil), r.SSHOptions...)
	out.PassEnv = append([]string(nil), r.PassEnv...)
	var missing []string
	expand := func(s *string) {
		v, m := Expand(*s, w.Env.Lookup)
		*s = v
		for _, n := range m {
			if !containsString(missing, n) {
				missing = append(missing, n)
			}
		}
	}
	for _, s := range []*string{&out.Host, &out.User, &out.Identity, &out.Dir, &out.Binary, &out.Image, &out.Volume, &out.DockerHost, &out.Network} {
		expand(s)
	}
	for i := range out.SSHOptions {
		expand(&out.SSHOptions[i])
	}
	if len(missing) > 0 {
		return nil, &MissingVarError{Ref: "remote " + out.Name, Names: missing, Field: "remote." + out.Name,
			Where: fmt.Sprintf("%s:%d", ConfigFileName, out.Line)}
	}
	return &out, nil
}

func (w *Workspace) pickRemote(name string) (*RemoteConfig, error) {
	remotes := w.Config.Remote
	if name != "" {
		if r, ok := remotes[name]; ok {
			return r, nil
		}
		if name == "local" {
			return &RemoteConfig{Name: "local", Kind: "local"}, nil
		}
		names := make([]string, 0, len(remotes))
		for n := range remotes {
			names = append(names, n)
		}
		sort.Strings(names)
		hint := "add [remote." + name + "] to " + ConfigFileName
		if len(names) > 0 {
			hint = "known: " + strings.Join(names, ", ")
		}
		return nil, &ConnectionError{Ref: "remote " + name, Msg: "not configured", Hint: hint}
	}
	for _, r := range remotes {
		if r.Default {
			return r, nil
		}
	}
	if len(remotes) == 1 {
		for _, r := range remotes {
			return r, nil
		}
	}
	// Several and none marked default: "local" (spec 04), the configured
	// [remote.local] if there is one, else the plain local sandbox.
	if r, ok := remotes["local"]; ok {
		return r, nil
	}
	return &RemoteConfig{Name: "local", Kind: "local"}, nil
}
