# Stand-in for node:20-bookworm (the full image): what `npm ci` needs to compile native modules
# (better-sqlite3 through node-gyp) and to reach the npm registry over TLS. The context holds
# this machine's extra CA certificates (its egress proxy re-signs TLS): a fact of this machine,
# not of the image under test, so they live in the stand-in only. So do Node's C headers with
# npm_config_nodedir: node-gyp would download them from nodejs.org, which this machine cannot reach
# (the official image downloads them too).
FROM shipdeck-local/node:20-bookworm-slim
COPY *.crt /usr/local/share/ca-certificates/
COPY include-node /usr/local/include/node
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/* \
 && update-ca-certificates
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt npm_config_nodedir=/usr/local
