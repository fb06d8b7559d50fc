# Forgeline server or worker. Not built here (no Docker engine on the development machine): see README "Deploying".
FROM node:24-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends git util-linux ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin forgeline-step \
 && useradd --system --no-create-home --shell /usr/sbin/nologin forgeline-fork
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# Node 24 runs the TypeScript sources directly (type stripping): no build step.
ENV FORGELINE_DATA_DIR=/var/lib/forgeline
VOLUME /var/lib/forgeline
EXPOSE 8080
ENTRYPOINT ["node", "bin/forgeline.js"]
CMD ["serve", "--port", "8080", "--run-as", "forgeline-step", "--fork-run-as", "forgeline-fork"]
