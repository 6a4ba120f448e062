#!/usr/bin/env bash
# Builds the one base image every Tessera image starts from, from Debian's
# packages, for machines that cannot pull it from an image registry:
#
#   scripts/docker-base.sh            # or: npm run docker:base
#   scripts/docker-base.sh --force    # rebuild even if the image exists
#
# The Dockerfiles take the base as a build argument whose default is the
# public `debian:bookworm-slim`; this script tags its image with that same
# name (TESSERA_BASE_IMAGE overrides it), so the compose and stack files need
# no change. With access to Docker Hub, skip this: the build pulls the public
# image. Nothing here talks to an image registry.
#
# How: `mmdebstrap --variant=minbase bookworm` with this machine's own apt
# sources (the same mirror apt uses here), streamed as a tar into
# `docker import`. Needs root (or mmdebstrap's unshare mode), mmdebstrap and a
# running Docker engine. About 30 s.
#
#   TESSERA_BASE_IMAGE   image name to create (debian:bookworm-slim)
#   TESSERA_APT_SOURCES  apt sources file (deb822 .sources or one-line .list)
#                        to build from; default: this machine's Debian sources
set -Eeuo pipefail

image="${TESSERA_BASE_IMAGE:-debian:bookworm-slim}"
suite=bookworm
force=false
for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "docker-base: unknown argument $arg" >&2; exit 2 ;;
  esac
done

log() { echo "docker-base: $*" >&2; }

if ! docker info >/dev/null 2>&1; then
  log "no Docker engine answers (docker info); start dockerd first"
  exit 1
fi
if ! $force && docker image inspect "$image" >/dev/null 2>&1; then
  log "$image is already here; nothing to do (--force rebuilds it)"
  exit 0
fi
if ! command -v mmdebstrap >/dev/null 2>&1; then
  log "mmdebstrap is missing: apt-get install mmdebstrap"
  exit 1
fi

# This machine's Debian sources: mmdebstrap reads a sources file given as its
# mirror argument, so the image uses whatever mirror (or dated snapshot) apt
# already uses here. Without one, mmdebstrap's own default mirror applies.
sources="${TESSERA_APT_SOURCES:-}"
if [ -z "$sources" ]; then
  for candidate in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [ -s "$candidate" ] && grep -q "$suite" "$candidate"; then sources="$candidate"; break; fi
  done
fi
mirror_args=()
if [ -n "$sources" ]; then mirror_args=("$sources"); log "apt sources: $sources"; fi

# Certificate authorities this machine trusts beyond Debian's bundle (a
# TLS-inspecting proxy's, a company's): copied in so that a later
# `apt-get install ca-certificates` in a Dockerfile trusts them too, and
# npm inside a build reaches its registry as it does from this host.
hooks=()
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  hooks+=(--customize-hook='mkdir -p "$1/usr/local/share/ca-certificates"'
          --customize-hook='copy-in /usr/local/share/ca-certificates/. /usr/local/share/ca-certificates')
fi

log "building $image from Debian $suite (mmdebstrap, minbase)"
# Check-Valid-Until/Check-Date off: a dated snapshot mirror's Release files
# are past their validity. mmdebstrap keeps --aptopt settings in the image, so
# apt-get inside `docker build` accepts them too.
# The path excludes make it slim like the public image (no docs, man pages, locales).
mmdebstrap --variant=minbase --quiet \
  --aptopt='Acquire::Check-Valid-Until "false"' \
  --aptopt='Acquire::Check-Date "false"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
  "${hooks[@]}" \
  "$suite" - "${mirror_args[@]}" \
  | docker import --change 'CMD ["bash"]' --message "Debian $suite minbase (scripts/docker-base.sh)" - "$image" >/dev/null
log "done: $(docker image inspect --format '{{.Id}} {{.Size}} bytes' "$image")"
