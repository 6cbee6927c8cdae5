# syntax=docker/dockerfile:1
# The fleetlog image: the `fleetlog` binary, plus nats-server so that a bare
# `fleetlog serve` (no --nats-url) can start its embedded JetStream server.
#
#   docker build -t fleetlog .        (docker-compose.yml builds it for its replicas)

# Builder and runtime both on Debian bookworm, so the binary's glibc matches the runtime's.
FROM rust:1.89-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release -p fleetlog-gateway \
 && install -D -m 0755 target/release/fleetlog /out/fleetlog

# The official image is FROM scratch with the static binary at /nats-server.
FROM nats:2.15 AS nats

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home fleetlog \
 && mkdir -p /data \
 && chown fleetlog:fleetlog /data
COPY --from=builder /out/fleetlog /usr/local/bin/fleetlog
COPY --from=nats /nats-server /usr/local/bin/nats-server
ENV FLEETLOG_NATS_SERVER=/usr/local/bin/nats-server
USER fleetlog
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["fleetlog"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/data"]
