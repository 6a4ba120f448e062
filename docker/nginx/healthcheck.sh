#!/bin/bash
# NGINX's own liveness, for the image's HEALTHCHECK: GET /_nginx/healthz
# (answered by NGINX itself, never by an app) must return 200. Plain bash
# (/dev/tcp), so the image needs no HTTP client.
set -euo pipefail
exec 3<>/dev/tcp/127.0.0.1/8080
printf 'GET /_nginx/healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 2 status <&3
[[ "$status" == "HTTP/1.1 200"* ]]
