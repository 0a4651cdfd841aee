#!/usr/bin/env bash
# The sandboxes that the remote tests run in (spec 04, "How each is tested"):
# a private dockerd on its own socket and data root with a test image
# imported from a tiny local root filesystem (nothing is pulled from a
# registry), and an sshd on 127.0.0.1 at a high port with a throwaway host
# key and user keys.
#
#   eval "$(bash .ci/sandboxes.sh start)"   # install + start; prints the exports the tests read
#   bash .ci/sandboxes.sh env               # print the exports again
#   bash .ci/sandboxes.sh stop              # stop dockerd and sshd by PID
#
# Idempotent: what is installed or running is left as it is. Everything
# lives under $OSIRIS_SANDBOXES_DIR (default /tmp/osiris-ci-sandboxes).
# Logs go to stderr and to files there; stdout is only the export lines.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

dir=${OSIRIS_SANDBOXES_DIR:-/tmp/osiris-ci-sandboxes}
sock=unix://$dir/docker.sock
sshport_file=$dir/ssh/port

log() { echo "== sandboxes: $*" >&2; }

# alive PIDFILE NAME: the process the file names runs and is NAME (a stale
# file from a killed session may name a reused PID).
alive() { [ -s "$1" ] && grep -qa "$2" "/proc/$(cat "$1")/cmdline" 2>/dev/null; }

install_missing() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v sshd >/dev/null 2>&1 || missing+=(openssh-server)
  command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
  command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  fi
}

docker_cli() { DOCKER_HOST=$sock docker "$@"; }

start_dockerd() {
  mkdir -p "$dir/docker"
  if alive "$dir/docker/dockerd.pid" dockerd && docker_cli version >/dev/null 2>&1; then
    log "dockerd is running (pid $(cat "$dir/docker/dockerd.pid"))"
    return 0
  fi
  log "starting dockerd on $sock"
  # A killed session leaves its pid file (dockerd refuses to start over
  # it) and possibly its containerd; alive() said neither is ours to keep.
  rm -f "$dir/docker/dockerd.pid" "$dir/docker/exec/containerd/containerd.pid"
  # --bridge=none and no iptables: containers use --network host or none;
  # nothing of the host's network set-up is touched.
  setsid dockerd --host "$sock" --data-root "$dir/docker/data" --exec-root "$dir/docker/exec" \
    --pidfile "$dir/docker/dockerd.pid" --bridge=none --iptables=false --ip6tables=false \
    >"$dir/docker/dockerd.log" 2>&1 </dev/null &
  local pid=$!
  for _ in $(seq 1 60); do
    if docker_cli version >/dev/null 2>&1; then log "dockerd is up"; return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  echo "dockerd did not come up; the end of $dir/docker/dockerd.log:" >&2
  tail -20 "$dir/docker/dockerd.log" >&2
  return 1
}

# copy_with_libs ROOTFS FILE...: each file and the shared libraries it
# needs, at their canonical paths (the image has /lib -> usr/lib like
# Debian's merged /usr).
copy_with_libs() {
  local root=$1; shift
  local f dst
  for f in "$@" $(ldd "$@" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
    [ -e "$f" ] || continue
    dst=$root$(readlink -f "$(dirname "$f")")/$(basename "$f")
    mkdir -p "$(dirname "$dst")"
    cp -L "$f" "$dst"
  done
}

build_image() {
  if docker_cli image inspect "$image" >/dev/null 2>&1; then
    log "image $image is there"
    return 0
  fi
  log "building image $image (docker import of a tiny root filesystem)"
  local root=$dir/rootfs
  rm -rf "$root"
  mkdir -p "$root"/{usr/bin,usr/lib,usr/lib64,etc,tmp,root,proc,sys,dev,sandbox}
  for l in bin lib lib64 sbin; do ln -s "usr/$l" "$root/$l"; done
  ln -s bin "$root/usr/sbin"
  chmod 1777 "$root/tmp"
  # A shell and the coreutils the binary provisioning needs, and the
  # libraries an osiris binary links (libstdc++, libm, libgcc_s, libc).
  copy_with_libs "$root" /bin/sh /bin/dash /usr/bin/cat /usr/bin/sha256sum /usr/bin/mv /usr/bin/chmod \
    /usr/bin/mkdir /usr/bin/rm /usr/bin/uname /usr/bin/env /usr/bin/ls /usr/bin/head
  local gnu
  gnu=$(dirname "$(readlink -f "$(ldd /bin/sh | grep -o '/[^ ]*libc\.so\.6')")")
  copy_with_libs "$root" "$gnu/libstdc++.so.6" "$gnu/libgcc_s.so.1" "$gnu/libm.so.6"
  cp -a /usr/share/zoneinfo "$root/usr/share/" 2>/dev/null || { mkdir -p "$root/usr/share" && cp -a /usr/share/zoneinfo "$root/usr/share/"; }
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -c . |
    docker_cli import -c 'WORKDIR /' -c 'ENV PATH=/usr/bin:/bin HOME=/root' - "$image" >/dev/null
  log "image $image built ($(du -sh "$root" | cut -f1))"
}

free_port() {
  local p
  for p in $(seq 22220 22299); do
    if ! (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

start_sshd() {
  local d=$dir/ssh
  mkdir -p "$d" /run/sshd
  chmod 700 "$d"
  if alive "$d/sshd.pid" sshd && [ -s "$sshport_file" ]; then
    log "sshd is running (pid $(cat "$d/sshd.pid"), port $(cat "$sshport_file"))"
    return 0
  fi
  [ -f "$d/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C osiris-test-host -f "$d/host_key"
  [ -f "$d/user_key" ] || ssh-keygen -q -t ed25519 -N '' -C osiris-test-user -f "$d/user_key"
  [ -f "$d/bad_key" ] || ssh-keygen -q -t ed25519 -N '' -C osiris-test-not-authorized -f "$d/bad_key"
  cp "$d/user_key.pub" "$d/authorized_keys"
  chmod 600 "$d/authorized_keys"
  local port
  port=$(free_port)
  cat >"$d/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
X11Forwarding no
PrintMotd no
EOF
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/host_key.pub")" >"$d/known_hosts"
  log "starting sshd on 127.0.0.1:$port"
  /usr/sbin/sshd -f "$d/sshd_config" -E "$d/sshd.log"
  echo "$port" >"$sshport_file"
  for _ in $(seq 1 40); do
    if ssh -o BatchMode=yes -o UserKnownHostsFile="$d/known_hosts" -o StrictHostKeyChecking=yes \
      -o IdentitiesOnly=yes -i "$d/user_key" -p "$port" root@127.0.0.1 true 2>/dev/null; then
      log "sshd is up"; return 0
    fi
    sleep 0.25
  done
  echo "sshd did not accept the test key; the end of $d/sshd.log:" >&2
  tail -20 "$d/sshd.log" >&2
  return 1
}

print_env() {
  local d=$dir/ssh
  echo "export OSIRIS_TEST_DOCKER_HOST=$sock"
  echo "export OSIRIS_TEST_DOCKER_IMAGE=$image"
  if [ -s "$sshport_file" ]; then
    echo "export OSIRIS_TEST_SSH_HOST=127.0.0.1"
    echo "export OSIRIS_TEST_SSH_PORT=$(cat "$sshport_file")"
    echo "export OSIRIS_TEST_SSH_USER=root"
    echo "export OSIRIS_TEST_SSH_KEY=$d/user_key"
    echo "export OSIRIS_TEST_SSH_BAD_KEY=$d/bad_key"
    echo "export OSIRIS_TEST_SSH_KNOWN_HOSTS=$d/known_hosts"
  fi
}

stop_pid() { # stop_pid NAME PIDFILE
  if alive "$2" "$1"; then
    local pid
    pid=$(cat "$2")
    log "stopping $1 (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}

# The image's tag follows its recipe, so a changed recipe builds a new one.
image=osiris-test:$(declare -f build_image copy_with_libs | sha256sum | cut -c1-12)

case "${1:-}" in
start)
  mkdir -p "$dir"
  install_missing
  start_dockerd
  build_image
  start_sshd
  print_env
  ;;
env) print_env ;;
stop)
  # Leftover worker containers first, then the daemons.
  if docker_cli version >/dev/null 2>&1; then
    ids=$(docker_cli ps -aq --filter label=osiris.sandbox 2>/dev/null || true)
    [ -z "$ids" ] || docker_cli rm -f $ids >/dev/null 2>&1 || true
  fi
  stop_pid dockerd "$dir/docker/dockerd.pid"
  stop_pid sshd "$dir/ssh/sshd.pid"
  ;;
*)
  echo "usage: $0 start|env|stop" >&2
  exit 2
  ;;
esac
