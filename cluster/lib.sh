# Shared helpers of the cluster/ scripts (sourced, not run).
# Run folder: cluster/run/ (gitignored) holds the cluster file in use, NAME.pid, NAME.log, NAME.cmd.
set -euo pipefail
CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$CLUSTER_DIR/.." && pwd)"
RUN_DIR="${PARLEY_CLUSTER_RUN:-$CLUSTER_DIR/run}"

# The parley binary: $PARLEY_BIN, else the newest release or debug build of this checkout.
parley_bin() {
    if [[ -n "${PARLEY_BIN:-}" ]]; then echo "$PARLEY_BIN"; return; fi
    for candidate in "$ROOT/.build-release/release/parley" "$ROOT/.build/release/parley" "$ROOT/.build/debug/parley"; do
        if [[ -x "$candidate" ]]; then echo "$candidate"; return; fi
    done
    echo "no parley binary: build it (swift build -c release --scratch-path .build-release) or set PARLEY_BIN" >&2
    exit 1
}

# Lines of the cluster file without comments and blank lines: name roles listen [http]
cluster_lines() {
    grep -v '^[[:space:]]*#' "$1" | grep -v '^[[:space:]]*$' || true
}

is_running() {
    local pid_file="$RUN_DIR/$1.pid"
    [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

# Starts node NAME from the command saved in NAME.cmd, appending to NAME.log.
start_node() {
    local name="$1"
    local cmd_file="$RUN_DIR/$name.cmd"
    if is_running "$name"; then echo "$name is already running (pid $(cat "$RUN_DIR/$name.pid"))"; return; fi
    # shellcheck disable=SC2046
    nohup $(cat "$cmd_file") >>"$RUN_DIR/$name.log" 2>&1 &
    echo $! >"$RUN_DIR/$name.pid"
    echo "started $name (pid $!), log $RUN_DIR/$name.log"
}
