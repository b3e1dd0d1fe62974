# The virtual Smart Connect as a container image: sc-sim from the project's
# Debian package on Debian 12 slim, as a non-root user, every server on all
# of the container's interfaces (--listen 0.0.0.0), healthy once its ready
# file is written. Docs: docs/user/container.md.
#
#   docker build -t smartconnect-twin .
#   docker run --rm -p 1502:1502 -p 8443:8443 -p 8080:8080 smartconnect-twin --password demo
#
# Arguments after the image name, and the environment variable SC_SIM_OPTIONS,
# go to sc-sim and win over the defaults below (sc-sim --help). BASE names the
# base image (a local copy of Debian 12 slim, say).
ARG BASE=debian:12-slim

# The package, built as scripts/package.sh builds it (release, Debian's
# hardening flags, no tests).
FROM ${BASE} AS build
WORKDIR /src
COPY . .
RUN scripts/setup.sh --package && scripts/package.sh /src/build-pkg \
 && cp /src/build-pkg/smartconnect-twin_*.deb /smartconnect-twin.deb

# The runtime: the package and the libraries it depends on, nothing else.
FROM ${BASE}
# A fixed numeric user (the package keeps an existing sc-sim user), so that
# Kubernetes' runAsNonRoot can check it.
RUN groupadd --system --gid 999 sc-sim \
 && useradd --system --uid 999 --gid sc-sim --home-dir /var/lib/smartconnect-twin \
      --no-create-home --shell /usr/sbin/nologin sc-sim
COPY --from=build /smartconnect-twin.deb /tmp/
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      /tmp/smartconnect-twin.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/smartconnect-twin.deb
USER 999:999
WORKDIR /var/lib/smartconnect-twin
# Modbus TCP, HTTPS (the page and API), HTTP; unprivileged ports (map 502 to
# 1502 for a client that wants the device's port).
EXPOSE 1502 8443 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["test", "-s", "/tmp/sc-sim.ready.json"]
# sc-sim with the image's defaults, then SC_SIM_OPTIONS (one line of options,
# for a CI service that cannot pass arguments), then the arguments: later
# options win.
ENV SC_SIM_OPTIONS=""
ENTRYPOINT ["/bin/sh", "-c", "exec /usr/bin/sc-sim --listen 0.0.0.0 --modbus :1502 --https :8443 --http :8080 --state-dir /var/lib/smartconnect-twin --ready-file /tmp/sc-sim.ready.json $SC_SIM_OPTIONS \"$@\"", "sc-sim"]
CMD []
