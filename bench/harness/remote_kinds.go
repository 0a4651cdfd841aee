package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// W6 for the docker and ssh sandbox kinds: the same seed pipeline (W3) in
// a container of the private dockerd and over ssh to the sshd on
// 127.0.0.1 that .ci/sandboxes.sh starts, against W3 run locally. The
// sandboxes are found through the variables that script prints; without
// them the rows say how to start them.

const (
	jobW6Docker = "osiris W6 docker"
	jobW6SSH    = "osiris W6 ssh"
	// Where the bench's docker and ssh sandboxes keep their store: it
	// persists between harness runs, as a user's sandbox does.
	benchDockerVolume = "osiris-bench-sandbox"
)

// sandboxesHint says how to make the docker and ssh rows measurable.
const sandboxesHint = `needs the test sandboxes: eval "$(bash .ci/sandboxes.sh start)"`

// remoteKind is one [remote.NAME] of the bench workspace.
type remoteKind struct {
	name, job string
	env       []string // the variables it needs
}

var remoteKinds = []remoteKind{
	{"docker", jobW6Docker, []string{"OSIRIS_TEST_DOCKER_HOST", "OSIRIS_TEST_DOCKER_IMAGE"}},
	{"ssh", jobW6SSH, []string{"OSIRIS_TEST_SSH_HOST", "OSIRIS_TEST_SSH_PORT", "OSIRIS_TEST_SSH_USER", "OSIRIS_TEST_SSH_KEY", "OSIRIS_TEST_SSH_KNOWN_HOSTS"}},
}

// unavailable is why the kind cannot be measured, or "".
func (k remoteKind) unavailable() string {
	for _, v := range k.env {
		if os.Getenv(v) == "" {
			return sandboxesHint + " (" + v + " is not set)"
		}
	}
	return ""
}

// sandboxesTOML is the [remote.docker] and [remote.ssh] tables of the bench
// workspace, for the kinds whose sandbox is there.
func sandboxesTOML() string {
	var b strings.Builder
	e := os.Getenv
	if remoteKinds[0].unavailable() == "" {
		fmt.Fprintf(&b, "\n[remote.docker]\nkind = \"docker\"\nimage = %q\ndocker_host = %q\nvolume = %q\nnetwork = \"host\"\n",
			e("OSIRIS_TEST_DOCKER_IMAGE"), e("OSIRIS_TEST_DOCKER_HOST"), benchDockerVolume)
	}
	if remoteKinds[1].unavailable() == "" {
		fmt.Fprintf(&b, "\n[remote.ssh]\nkind = \"ssh\"\nhost = %q\nport = %s\nuser = %q\nidentity = %q\n"+
			"ssh_options = [\"-o\", %q, \"-o\", \"StrictHostKeyChecking=yes\", \"-F\", \"/dev/null\"]\ndir = %q\n",
			e("OSIRIS_TEST_SSH_HOST"), e("OSIRIS_TEST_SSH_PORT"), e("OSIRIS_TEST_SSH_USER"), e("OSIRIS_TEST_SSH_KEY"),
			"UserKnownHostsFile="+e("OSIRIS_TEST_SSH_KNOWN_HOSTS"), filepath.Join(os.TempDir(), "osiris-bench-ssh-sandbox"))
	}
	return b.String()
}

// remoteKindJobs are the jobs of the kinds whose sandbox is there.
func remoteKindJobs(osiris, ws string) []*job {
	var jobs []*job
	for _, k := range remoteKinds {
		if k.unavailable() == "" {
			jobs = append(jobs, osirisJob(k.job, osiris, ws, "run", "--json", "--no-cache", w3File, "--remote", k.name))
		}
	}
	return jobs
}

// measureW6Kind is W6 for one kind: its wall time against W3 run locally
// (interleaved), and one more unchanged run whose sync must upload 0
// bytes, blobs and binary.
func measureW6Kind(k remoteKind) func(ctx context.Context, b *bench) (outcome, error) {
	return func(ctx context.Context, b *bench) (outcome, error) {
		ss, err := b.run(ctx, k.job, jobW3)
		if err != nil {
			return outcome{}, err
		}
		if err := b.expectPGRows(ctx, w3Table, min(b.cfg.Rows, directorsRows)); err != nil {
			return outcome{}, err
		}
		uploaded, err := remoteRunUploaded(ctx, b.cfg.Osiris, b.wsDefault, k.name)
		if err != nil {
			return outcome{}, err
		}
		o := outcome{Osiris: ss[0], Baseline: ss[1], BaselineLabel: "W3 local"}
		o.Ratio = ratio(o.Osiris.Stats.MedianSeconds, o.Baseline.Stats.MedianSeconds)
		o.Checks = []check{
			atMost("wall ≤ 1.10 × W3 run locally", o.Ratio, 1.10),
			{What: fmt.Sprintf("a further remote run uploads 0 bytes (uploaded %d)", uploaded), OK: uploaded == 0},
		}
		return o, nil
	}
}
