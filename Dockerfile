# syntax=docker/dockerfile:1
# empsync image: one program, every role (`all`, `api`, `relay <store>`, `sink <store>`, `migrate`,
# `backfill`) chosen by the command. The image runs the bundle of src/ (scripts/build.mjs, esbuild):
# 40 MiB less resident per process than the TypeScript sources Node runs in development
# (docs/benchmarks.md, "The bundle"); it holds dist/ and the production dependencies only.

ARG NODE_IMAGE=node:24.21.0-slim

# ---- deps: production node_modules, resolved exactly from package-lock.json ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: no dependency needs an install script, and none may run one at build time.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- build: the bundle, with the lock file's esbuild ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# esbuild finds its binary in its platform package: no install script needed here either.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN node scripts/build.mjs

# ---- runtime: the same base, the app, a non-root user ----
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="empsync" \
      org.opencontainers.image.description="Keeps employes identical in MySQL and PostgreSQL through Kafka; GraphQL API and Prometheus metrics" \
      org.opencontainers.image.licenses="MIT"
WORKDIR /app
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8000
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json package-lock.json ./
COPY --from=build --chown=root:root /app/dist ./dist
# The app only reads its files: owned by root, run as the image's unprivileged `node` user (uid 1000).
USER node
EXPOSE 8000
# /readyz answers 200 only when MySQL, PostgreSQL and Kafka answer; node's fetch avoids curl in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/main.mjs"]
CMD ["all"]
