# Stand-in for apache/activemq-artemis:2.40.0: the distribution in /opt/activemq-artemis, an
# instance directory /var/lib/artemis-instance owned by the `artemis` user (uid 1001), the image's
# docker-run.sh entry point; Debian's JRE 17 instead of Temurin 21.
FROM shipdeck-local/debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd -g 1001 -r artemis && useradd -r -u 1001 -g artemis artemis \
 && mkdir /var/lib/artemis-instance && chown artemis:artemis /var/lib/artemis-instance
COPY dist /opt/activemq-artemis
COPY docker-run.sh /docker-run.sh
ENV ARTEMIS_USER=artemis ARTEMIS_PASSWORD=artemis ANONYMOUS_LOGIN=false \
    EXTRA_ARGS="--http-host 0.0.0.0 --relax-jolokia"
USER artemis
VOLUME ["/var/lib/artemis-instance"]
WORKDIR /var/lib/artemis-instance
EXPOSE 8161 61616 5672 61613
ENTRYPOINT ["/docker-run.sh"]
CMD ["run"]
