# admission-alerts: one image for both production processes (docker-compose.yml runs it as `api` and `worker`).
# The service runs TypeScript directly through tsx (package.json scripts), and tsx is a runtime dependency,
# so production dependencies are all it needs: no build step, no dev tooling in the image.
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false

WORKDIR /app

# dependencies first: this layer is rebuilt only when the lockfile changes
COPY package.json package-lock.json ./
# postinstall patches postgres.js (patches/README.md says why)
COPY patches ./patches
RUN npm ci --omit=dev && npm cache clean --force

COPY tsconfig.json ./
COPY migrations ./migrations
COPY workflows ./workflows
COPY activities ./activities
COPY src ./src

# files stay root-owned and read-only to the process
USER node

# PORT (HTTP API and coordinator pages), MLLP_PORT (HL7 v2 over MLLP)
EXPOSE 3000 2575

# the worker overrides this with `npm run start:worker`
CMD ["npm", "run", "start:api"]
