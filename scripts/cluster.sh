#!/usr/bin/env bash
# The clustered shape of docker-compose.yml on loopback ports, without containers: three
# nats-server nodes clustered with JetStream, SeaweedFS for S3 and two fleetlog replicas, with
# the replicas' shared settings read from deploy/cluster.env (the file compose reads too).
#
#   scripts/cluster.sh secrets    write deploy/secrets/jwt-key.pem (the shared token key)
#   scripts/cluster.sh up         start everything (uses `make setup`'s tools and a release build)
#   scripts/cluster.sh status     what runs, and each replica's /readyz
#   scripts/cluster.sh down       stop everything (the data stays in $CLUSTER_DIR)
#
# Ports (loopback only): NATS clients 14222-14224, routes 16222-16224, monitoring 18222-18224;
# S3 18333; fleetlog replicas 18081 and 18082. Overridable: CLUSTER_DIR, FLEETLOG_BIN, TOOLS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOOLS=${TOOLS:-${FLEETLOG_TOOLS:-$HOME/.cache/fleetlog/tools}}
CLUSTER_DIR=${CLUSTER_DIR:-/tmp/fleetlog-cluster}
FLEETLOG_BIN=${FLEETLOG_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/fleetlog/target}/release/fleetlog}
NATS_BIN=${FLEETLOG_NATS_SERVER:-$TOOLS/bin/nats-server}
WEED_BIN=${FLEETLOG_WEED:-$TOOLS/bin/weed}
NODES=(1 2 3)
REPLICAS=(1 2)

say() { echo "cluster: $*"; }
pidfile() { echo "$CLUSTER_DIR/$1.pid"; }
running() { [[ -f "$(pidfile "$1")" ]] && kill -0 "$(cat "$(pidfile "$1")")" 2>/dev/null; }

# Waits until `curl` gets an answer from $2 (up to $3 seconds), or fails naming $1.
wait_http() {
    local what=$1 url=$2 limit=${3:-60} i
    for ((i = 0; i < limit * 5; i++)); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.2
    done
    say "$what did not answer at $url within ${limit}s; see $CLUSTER_DIR/*.log" >&2
    return 1
}

secrets() {
    mkdir -p deploy/secrets
    if [[ ! -s deploy/secrets/jwt-key.pem ]]; then
        (umask 077 && openssl genpkey -algorithm ed25519 -out deploy/secrets/jwt-key.pem)
        say "wrote deploy/secrets/jwt-key.pem (keep it secret; every replica needs the same file)"
    fi
}

start_nats() {
    local n=$1 routes="" m
    for m in "${NODES[@]}"; do routes+="${routes:+, }nats-route://127.0.0.1:$((16221 + m))"; done
    mkdir -p "$CLUSTER_DIR/nats-$n"
    cat > "$CLUSTER_DIR/nats-$n.conf" <<CONF
server_name: nats-$n
listen: 127.0.0.1:$((14221 + n))
http: 127.0.0.1:$((18221 + n))
jetstream {
  store_dir: "$CLUSTER_DIR/nats-$n"
  sync_interval: always
}
cluster {
  name: fleetlog
  listen: 127.0.0.1:$((16221 + n))
  routes: [ $routes ]
}
CONF
    nohup "$NATS_BIN" -c "$CLUSTER_DIR/nats-$n.conf" > "$CLUSTER_DIR/nats-$n.log" 2>&1 &
    echo $! > "$(pidfile "nats-$n")"
}

start_weed() {
    mkdir -p "$CLUSTER_DIR/weed"
    cat > "$CLUSTER_DIR/s3.json" <<JSON
{"identities":[{"name":"fleetlog","credentials":[{"accessKey":"$FLEETLOG_S3_ACCESS_KEY","secretKey":"$FLEETLOG_S3_SECRET_KEY"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
    nohup "$WEED_BIN" mini -dir="$CLUSTER_DIR/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port=18333 -master.telemetry=false -webdav=false -admin.ui=false \
        -s3.config="$CLUSTER_DIR/s3.json" > "$CLUSTER_DIR/weed.log" 2>&1 &
    echo $! > "$(pidfile weed)"
}

start_replica() {
    local r=$1
    mkdir -p "$CLUSTER_DIR/fleetlog-$r"
    FLEETLOG_NATS_URL="nats://127.0.0.1:14222,nats://127.0.0.1:14223,nats://127.0.0.1:14224" \
    FLEETLOG_S3_ENDPOINT="http://127.0.0.1:18333" \
    FLEETLOG_JWT_KEY="$PWD/deploy/secrets/jwt-key.pem" \
        nohup "$FLEETLOG_BIN" serve --listen "127.0.0.1:$((18080 + r))" \
        --data-dir "$CLUSTER_DIR/fleetlog-$r" > "$CLUSTER_DIR/fleetlog-$r.log" 2>&1 &
    echo $! > "$(pidfile "fleetlog-$r")"
}

up() {
    for bin in "$NATS_BIN" "$WEED_BIN" "$FLEETLOG_BIN"; do
        [[ -x "$bin" ]] || { say "missing $bin: run \`make setup\` and \`make build\` first" >&2; exit 1; }
    done
    secrets
    mkdir -p "$CLUSTER_DIR"
    set -a
    # shellcheck source=../deploy/cluster.env
    source deploy/cluster.env
    set +a
    local n r
    for n in "${NODES[@]}"; do running "nats-$n" || start_nats "$n"; done
    for n in "${NODES[@]}"; do wait_http "nats-$n" "http://127.0.0.1:$((18221 + n))/healthz?js-enabled-only=true"; done
    running weed || start_weed
    wait_http SeaweedFS "http://127.0.0.1:18333/healthz"
    for r in "${REPLICAS[@]}"; do running "fleetlog-$r" || start_replica "$r"; done
    for r in "${REPLICAS[@]}"; do wait_http "fleetlog-$r" "http://127.0.0.1:$((18080 + r))/readyz" 120; done
    say "up: fleetlog at http://127.0.0.1:18081 and http://127.0.0.1:18082 (create a user with:"
    say "  FLEETLOG_NATS_URL=nats://127.0.0.1:14222 $FLEETLOG_BIN admin create-user --data-dir $CLUSTER_DIR/fleetlog-1 ...)"
}

status() {
    local name
    for name in nats-1 nats-2 nats-3 weed fleetlog-1 fleetlog-2; do
        if running "$name"; then say "$name: running (pid $(cat "$(pidfile "$name")"))"; else say "$name: stopped"; fi
    done
    local r
    for r in "${REPLICAS[@]}"; do
        say "fleetlog-$r /readyz: $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((18080 + r))/readyz" || true)"
    done
}

down() {
    local name
    # Replicas first (they drain), then storage and the log.
    for name in fleetlog-1 fleetlog-2 weed nats-1 nats-2 nats-3; do
        if running "$name"; then
            kill "$(cat "$(pidfile "$name")")" 2>/dev/null || true
        fi
        rm -f "$(pidfile "$name")"
    done
    say "stopped (data kept in $CLUSTER_DIR)"
}

case "${1:-}" in
    secrets) secrets ;;
    up) up ;;
    status) status ;;
    down) down ;;
    *) echo "usage: $0 secrets|up|status|down" >&2; exit 2 ;;
esac
