# Stand-in for prom/prometheus (monitoring profile of docker/compose.yaml): Debian's Prometheus
# (2.42), laid out as the official image has it: the binary as the entry point, the configuration
# under /etc/prometheus, the data in /prometheus, run as `nobody`. The compose file passes every
# flag itself.
FROM shipdeck-local/debian:bookworm-slim
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
 && apt-get update \
 && apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \
 && mkdir -p /prometheus /etc/prometheus \
 && chown nobody:nogroup /prometheus
USER nobody
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
