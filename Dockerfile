# syntax=docker/dockerfile:1
# One image, two programs: vigil-operator (default command) and vigil-sidecar.
#   docker build -t vigil:dev .
#   docker run --rm vigil:dev                               # operator: node dist/operator/main.js
#   docker run --rm vigil:dev node dist/sidecar/main.js     # sidecar
# The chart runs them the same way (command: ["node", "/app/dist/<program>/main.js"]). On the development machines
# (no Docker engine) `npm test` builds this same file with buildah, on a node:24-bookworm-slim assembled locally
# (test/cluster/build-images.sh), and runs it in real Pods on the test node; keep it buildable by both.
# `npm run build` bundles each program with its dependencies (rolldown.config.ts, docs/decisions/build-0001): the
# runtime stage has no node_modules, only dist/ (with each program's THIRD-PARTY-LICENSES.txt) and package.json.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` devDependency would download a second Node; the image already has Node 24.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json rolldown.config.ts ./
COPY scripts/build ./scripts/build
COPY lib ./lib
COPY operator ./operator
COPY sidecar ./sidecar
RUN npm run build

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# package.json carries "type": "module" for dist/ (each main.js and the chunks it loads lazily).
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/dist ./dist
# 65532: the non-root user the chart's securityContext expects; the root filesystem may be read-only.
USER 65532:65532
EXPOSE 8080 9443 15080 15090
CMD ["node", "dist/operator/main.js"]
