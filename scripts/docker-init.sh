#!/usr/bin/env bash
# Makes the secrets the compose and Swarm stacks need, once, with bash and
# openssl only (no Node on the host):
#
#   scripts/docker-init.sh                 # .env and .secrets/ in the repository
#   scripts/docker-init.sh --env-file F --secrets-dir D
#   scripts/docker-init.sh --force         # new ones (an existing stack's
#                                          # databases keep the old passwords!)
#
# Writes:
#   .env (0600), read by `docker compose`:
#     TESSERA_DB_PASSWORD, TESSERA_REPLICATION_PASSWORD  random, hex (URL-safe)
#     TESSERA_JWKS_FILE, TESSERA_SIGNING_KEY_FILE        paths of the two below
#   .secrets/ (0700), for compose's secrets and `docker stack deploy`:
#     jwks.json (0644)         the public key, as a JWKS the apps verify tokens with
#     signing-key.jwk (0600)   the Ed25519 private key `tessera token` signs with
#     db_password, replication_password (0600)  the passwords again, as files (Swarm secrets)
# Existing files are kept unless --force: rerunning is harmless.
set -Eeuo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
env_file="$root/.env"
secrets_dir="$root/.secrets"

secrets_dir_given=false
force=false
while [ $# -gt 0 ]; do
  case "$1" in
    --env-file) env_file="$2"; shift 2 ;;
    --secrets-dir) secrets_dir="$2"; secrets_dir_given=true; shift 2 ;;
    --force) force=true; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "docker-init: unknown argument $1" >&2; exit 2 ;;
  esac
done

log() { echo "docker-init: $*" >&2; }
command -v openssl >/dev/null || { log "openssl is missing (apt-get install openssl)"; exit 1; }

umask 077
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

mkdir -p "$secrets_dir"
chmod 0700 "$secrets_dir"

# The passwords: 32 hex characters (128 bits), safe inside a connection URL.
for name in db_password replication_password; do
  if $force || [ ! -s "$secrets_dir/$name" ]; then
    openssl rand -hex 16 > "$secrets_dir/$name"
    log "wrote $secrets_dir/$name"
  fi
done

# The JWT signing key (EdDSA, Ed25519) and its public half as a JWKS. In DER,
# the last 32 bytes of the PKCS#8 private key are the seed (`d`) and the last
# 32 bytes of the SubjectPublicKeyInfo are the public key (`x`). The key id is
# the key's RFC 7638 thumbprint.
if $force || [ ! -s "$secrets_dir/signing-key.jwk" ] || [ ! -s "$secrets_dir/jwks.json" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  openssl genpkey -algorithm ed25519 -outform DER -out "$tmp/key.der"
  openssl pkey -inform DER -in "$tmp/key.der" -pubout -outform DER -out "$tmp/pub.der"
  d="$(tail -c 32 "$tmp/key.der" | b64url)"
  x="$(tail -c 32 "$tmp/pub.der" | b64url)"
  kid="$(printf '{"crv":"Ed25519","kty":"OKP","x":"%s"}' "$x" | openssl dgst -sha256 -binary | b64url)"
  printf '{"kty":"OKP","crv":"Ed25519","x":"%s","d":"%s","kid":"%s","alg":"EdDSA"}\n' "$x" "$d" "$kid" > "$secrets_dir/signing-key.jwk"
  chmod 0600 "$secrets_dir/signing-key.jwk"
  printf '{"keys":[{"kty":"OKP","crv":"Ed25519","x":"%s","kid":"%s","alg":"EdDSA","use":"sig"}]}\n' "$x" "$kid" > "$secrets_dir/jwks.json"
  # Public: the apps (a non-root user in their image) read it through a bind mount.
  chmod 0644 "$secrets_dir/jwks.json"
  log "wrote $secrets_dir/signing-key.jwk and $secrets_dir/jwks.json (kid $kid)"
fi

# Paths in .env: as given, else relative to the repository (where compose
# resolves them), so the checkout can move.
if $secrets_dir_given; then ref_dir="$secrets_dir"; else ref_dir="./.secrets"; fi
if $force || [ ! -s "$env_file" ]; then
  {
    echo "# Written by scripts/docker-init.sh. Secrets: keep this file out of version control."
    echo "TESSERA_DB_PASSWORD=$(cat "$secrets_dir/db_password")"
    echo "TESSERA_REPLICATION_PASSWORD=$(cat "$secrets_dir/replication_password")"
    echo "TESSERA_JWKS_FILE=$ref_dir/jwks.json"
    echo "TESSERA_SIGNING_KEY_FILE=$ref_dir/signing-key.jwk"
  } > "$env_file"
  chmod 0600 "$env_file"
  log "wrote $env_file"
else
  log "$env_file exists; kept (--force replaces it)"
fi
