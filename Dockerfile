# syntax=docker/dockerfile:1
# The licensegate image: the operator (default command) and the `licensegate` CLI, on Node 22,
# as a non-root user, with production dependencies only.
#
#   docker build -t registry.example.com/licensegate/licensegate:0.1.0 .
#   docker run --rm registry.example.com/licensegate/licensegate:0.1.0 licensegate --help
ARG NODE_IMAGE=node:22-bookworm-slim

# Compile TypeScript (needs the dev dependencies: typescript and types).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only, installed from the lockfile.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# The CLI on PATH, also as a kubectl plugin; its entry point is dist/src/cli/main.js (package.json
# "bin"). `licensegate activation-server` runs the vendor's activation endpoint from this image.
RUN printf '#!/bin/sh\nexec node /app/dist/src/cli/main.js "$@"\n' > /usr/local/bin/licensegate \
 && chmod 0755 /usr/local/bin/licensegate \
 && ln -s licensegate /usr/local/bin/kubectl-licensegate
# The node image's `node` user, numerically, so that runAsNonRoot can verify it.
USER 1000:1000
# 8080: /metrics, /healthz, /readyz; 9443: the admission webhook (HTTPS).
EXPOSE 8080 9443
# Node runs as PID 1 and handles SIGTERM itself: it drains reconciles and releases the lease.
# V8 flags for memory (issue #13, bench/README.md): a 2 MiB nursery (the caches are long-lived
# objects) and --optimize-for-size; at 1,000 customers RSS 156 MiB instead of 265 MiB, for about
# a third more CPU. bench/lib/operator-process.ts runs the operator with the same flags.
CMD ["node", "--max-semi-space-size=2", "--optimize-for-size", "dist/src/main.js"]
