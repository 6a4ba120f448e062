#!/usr/bin/env bash
# Makes sure a Docker engine answers, for the Docker test suite (npm test runs
# this through scripts/bootstrap.mjs) and for anyone on a machine without one:
#
#   1. `docker info` answers: nothing to do.
#   2. Otherwise, as root on Debian: install what is missing (docker.io,
#      docker-compose, mmdebstrap) and start dockerd in the background (no
#      systemd needed), logging to /var/log/tessera-dockerd.log; wait until
#      `docker info` answers.
#   3. Build the base image (scripts/docker-base.sh) when it is absent.
#
# dockerd is started with:
#   --ip 127.0.0.1                       published ports bind loopback unless a
#                                        compose file names another address
#   DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1  Swarm runs local images without
#                                        asking a registry for them first
set -Eeuo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
log() { echo "docker-engine: $*" >&2; }

engine_up() { docker info >/dev/null 2>&1; }

wait_engine() {
  for _ in $(seq 1 60); do
    if engine_up; then return 0; fi
    sleep 0.5
  done
  return 1
}

missing=()
command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "missing: ${missing[*]}; install them (apt-get install ${missing[*]}) and retry"
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The packages try to start their services through invoke-rc.d, which a
  # machine without systemd refuses ("policy-rc.d denied"): expected.
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

if ! engine_up; then
  if [ "$(id -u)" != 0 ]; then
    log "no Docker engine answers and only root can start one here"
    exit 1
  fi
  if pgrep -x dockerd >/dev/null 2>&1; then
    log "dockerd is running but does not answer yet; waiting"
  else
    log "starting dockerd (log: /var/log/tessera-dockerd.log)"
    DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid nohup "$(command -v dockerd || echo /usr/sbin/dockerd)" --ip 127.0.0.1 \
      >/var/log/tessera-dockerd.log 2>&1 < /dev/null &
  fi
  if ! wait_engine; then
    log "dockerd did not answer within 30 s; last lines of its log:"
    tail -n 30 /var/log/tessera-dockerd.log >&2 || true
    exit 1
  fi
fi
log "engine: $(docker info --format 'Docker {{.ServerVersion}}, {{.Driver}}, cgroups v{{.CgroupVersion}}' 2>/dev/null)"

bash "$root/scripts/docker-base.sh"
