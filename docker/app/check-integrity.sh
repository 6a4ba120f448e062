#!/bin/sh
# check-integrity FILE sha512-<base64>: exits 1 unless FILE's SHA-512 is the
# given Subresource-Integrity value (the form npm publishes as
# `dist.integrity`). Used by the Dockerfile to pin downloaded tarballs.
set -eu
file="$1"
want="$2"
case "$want" in
  sha512-*) ;;
  *) echo "check-integrity: only sha512- values are supported, got $want" >&2; exit 2 ;;
esac
want_hex="$(printf '%s' "${want#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')"
got_hex="$(sha512sum "$file" | cut -d' ' -f1)"
if [ "$want_hex" != "$got_hex" ]; then
  echo "check-integrity: $file does not match $want" >&2
  exit 1
fi
