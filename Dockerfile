# Tessera app image: one stateless app replica (`node dist/server.js`, the
# default) or the CLI (`node dist/cli/main.js …`, also on PATH as `tessera`).
#
#   docker build -t tessera .
#   docker run --rm -e TESSERA_CATALOG_URL=… -e TESSERA_REDIS_URL=… -p 3000:3000 tessera
#
# Stages: deps (every npm dependency, for the compiler) → build (tsc → dist/)
# → prod-deps (runtime dependencies only) → runtime (no compiler, no dev
# dependencies, non-root). Only plain Dockerfile syntax: it builds with
# BuildKit and with the classic builder alike.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false

# Dev dependencies included: the compiler and the type packages. Neither
# install scripts nor optional (platform binary) packages are needed to compile.
FROM base AS deps
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --ignore-scripts

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# Runtime dependencies only. --omit=optional drops what the image never runs:
# the embedded-postgres server binaries (the local stack's, not the
# container's), esbuild's binaries (tsx; the image runs compiled dist/),
# pg-cloudflare and fsevents.
FROM base AS prod-deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts \
 && npm cache clean --force

FROM base AS runtime
ENV NODE_ENV=production \
    TESSERA_USE_DIST=1 \
    TESSERA_HOST=0.0.0.0 \
    TESSERA_PORT=3000
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
USER node
EXPOSE 3000
# Liveness only (the process answers); compose checks readiness on /readyz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TESSERA_PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM starts the drain (stop accepting, 503 to new idempotent requests,
# serve POST/PATCH, wait for in-flight requests and for NGINX to close its
# idle connections, close pools) bounded by TESSERA_DRAIN_MS; give the
# container a longer stop timeout than that (compose: stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["tessera-entrypoint"]
CMD ["node", "--enable-source-maps", "dist/server.js"]
