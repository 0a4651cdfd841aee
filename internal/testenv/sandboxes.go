package testenv

import (
	"os"
	"testing"
)

// sandboxesHint is what to run when the remote sandboxes are not there.
const sandboxesHint = `eval "$(bash .ci/sandboxes.sh start)" (a private dockerd, the osiris-test image and an sshd on 127.0.0.1; .ci/run does this)`

// Docker is the private Docker daemon of .ci/sandboxes.sh and its test image.
type Docker struct {
	Host  string // OSIRIS_TEST_DOCKER_HOST, e.g. unix:///tmp/osiris-ci-sandboxes/docker.sock
	Image string // OSIRIS_TEST_DOCKER_IMAGE
}

// NeedDocker returns the test Docker daemon, or skips (fails under CI)
// saying how to start it.
func NeedDocker(t testing.TB) Docker {
	t.Helper()
	d := Docker{Host: os.Getenv("OSIRIS_TEST_DOCKER_HOST"), Image: os.Getenv("OSIRIS_TEST_DOCKER_IMAGE")}
	if d.Host == "" || d.Image == "" {
		Need(t, "a Docker daemon and test image named by OSIRIS_TEST_DOCKER_HOST / OSIRIS_TEST_DOCKER_IMAGE; run "+sandboxesHint)
	}
	return d
}

// SSH is the test sshd of .ci/sandboxes.sh.
type SSH struct {
	Host, Port, User string
	Key              string // the authorized private key
	BadKey           string // a key the server does not know
	KnownHosts       string // holds the server's host key
}

// Options are the ssh_options that make ssh trust exactly the test host
// key and nothing from the user's own ~/.ssh.
func (s SSH) Options() []string {
	return []string{"-o", "UserKnownHostsFile=" + s.KnownHosts, "-o", "StrictHostKeyChecking=yes", "-F", "/dev/null"}
}

// NeedSSH returns the test sshd, or skips (fails under CI) saying how to
// start it.
func NeedSSH(t testing.TB) SSH {
	t.Helper()
	s := SSH{Host: os.Getenv("OSIRIS_TEST_SSH_HOST"), Port: os.Getenv("OSIRIS_TEST_SSH_PORT"), User: os.Getenv("OSIRIS_TEST_SSH_USER"),
		Key: os.Getenv("OSIRIS_TEST_SSH_KEY"), BadKey: os.Getenv("OSIRIS_TEST_SSH_BAD_KEY"), KnownHosts: os.Getenv("OSIRIS_TEST_SSH_KNOWN_HOSTS")}
	if s.Host == "" || s.Port == "" || s.Key == "" || s.KnownHosts == "" {
		Need(t, "an sshd named by OSIRIS_TEST_SSH_HOST/PORT/USER/KEY/KNOWN_HOSTS; run "+sandboxesHint)
	}
	if !Reachable(s.Host, s.Port) {
		Need(t, "the test sshd on "+s.Host+":"+s.Port+" (not answering); run "+sandboxesHint)
	}
	return s
}
