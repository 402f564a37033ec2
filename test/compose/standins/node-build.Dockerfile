# Stand-in for node:20-bookworm (the full image): what `npm ci` needs to compile native modules
# (better-sqlite3 through node-gyp) and to reach the npm registry over TLS.
FROM shipdeck-local/node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
