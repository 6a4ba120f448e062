#!/usr/bin/env bash
# Makes sure a Docker engine answers and the base image is there, for the
# Docker test suite (npm test runs this through scripts/bootstrap.mjs) and
# for anyone on a Debian machine without them. Each step only when needed:
#
#   1. No engine answers `docker info`: install docker.io if dockerd is
#      missing (as root), start dockerd in the background (no systemd
#      needed; log: /var/log/tessera-dockerd.log) and wait until it answers.
#   2. No compose tool: install docker-compose.
#   3. No base image: install mmdebstrap if missing, and build the base
#      (scripts/docker-base.sh).
#
# dockerd is started with:
#   --ip 127.0.0.1                          published ports bind loopback unless
#                                           a compose file names another address
#   DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1   Swarm runs local images without
#                                           asking a registry for them first
set -Eeuo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
log() { echo "docker-engine: $*" >&2; }

engine_up() { docker info >/dev/null 2>&1; }

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

install() {
  if [ "$(id -u)" != 0 ] || ! have apt-get; then
    log "missing: $*; install them (apt-get install $*) and retry"
    exit 1
  fi
  log "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The packages try to start their services through invoke-rc.d, which a
  # machine without systemd refuses ("policy-rc.d denied"): expected.
  # DPkg::Lock::Timeout: wait for another apt instead of failing at once.
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "$@" >/dev/null
}

if ! engine_up; then
  have dockerd || install docker.io
  if [ "$(id -u)" != 0 ]; then
    log "no Docker engine answers, and only root can start one here"
    exit 1
  fi
  if pgrep -x dockerd >/dev/null 2>&1; then
    log "dockerd is running but does not answer yet; waiting"
  else
    log "starting dockerd (log: /var/log/tessera-dockerd.log)"
    DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid nohup "$(command -v dockerd || echo /usr/sbin/dockerd)" --ip 127.0.0.1 \
      >/var/log/tessera-dockerd.log 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do
    if engine_up; then break; fi
    sleep 0.5
  done
  if ! engine_up; then
    log "dockerd did not answer within 30 s; last lines of its log:"
    tail -n 30 /var/log/tessera-dockerd.log >&2 || true
    exit 1
  fi
fi
log "engine: $(docker info --format 'Docker {{.ServerVersion}}, {{.Driver}}, cgroups v{{.CgroupVersion}}' 2>/dev/null)"

have docker-compose || docker compose version >/dev/null 2>&1 || install docker-compose

base="${TESSERA_BASE_IMAGE:-debian:bookworm-slim}"
if ! docker image inspect "$base" >/dev/null 2>&1; then
  have mmdebstrap || install mmdebstrap
  bash "$root/scripts/docker-base.sh"
fi
