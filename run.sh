#!/usr/bin/env bash
# Controls container-statsd without systemd (the Rust original's "Alternate" run.sh).
#
#   run.sh start   [daemon flags...]   start in the background; refuses if already running
#   run.sh stop                        SIGTERM, wait up to 15 s for the final publish, then SIGKILL
#   run.sh restart [daemon flags...]   stop, then start
#   run.sh status                      exit 0 when running, 3 when not
#
# Example: ./run.sh start --node "$(hostname)" --source cgroup --disks / --questdb 'http::addr=questdb:9000;'
# Secrets: pass the QuestDB configuration through QDB_CLIENT_CONF rather than a flag, so that
# it does not show in `ps`.
#
# Program, in order: $CONTAINER_STATSD_BIN; ./dist/container-statsd-<arch> next to this script
# (from `deno task compile`); else `deno run` with the flags of deno.json's `start` task, read
# from deno.json so that they are kept in one place. Both have every Deno permission
# (--allow-all), which Deno asks before it opens /proc, /sys and /dev: --source cgroup and
# --disks read the host directly, no bind. `--watchdog disabled` is always passed last: no
# systemd here, so nothing may touch NOTIFY_SOCKET.
#
# Environment:
#   CONTAINER_STATSD_RUN_DIR      pid file directory  (default ${XDG_STATE_HOME:-~/.local/state}/container-statsd)
#   CONTAINER_STATSD_LOG_DIR      log file directory  (default: the same)
#   CONTAINER_STATSD_BIN          program to run instead of the compiled binary or `deno run`
#   CONTAINER_STATSD_STOP_TIMEOUT seconds to wait after SIGTERM (default 15)
#   CONTAINER_STATSD_START_WAIT   seconds the daemon must survive for `start` to succeed (default 1)
#   DENO                          deno executable (default: deno on PATH)
# The log file is appended to and never rotated here; use logrotate with copytruncate.

set -euo pipefail

readonly NAME=container-statsd
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
STATE_BASE=${XDG_STATE_HOME:-${HOME:?HOME is not set}/.local/state}/$NAME
readonly RUN_DIR=${CONTAINER_STATSD_RUN_DIR:-$STATE_BASE}
readonly LOG_DIR=${CONTAINER_STATSD_LOG_DIR:-$STATE_BASE}
readonly PID_FILE=$RUN_DIR/$NAME.pid
readonly LOG_FILE=$LOG_DIR/$NAME.log
readonly STOP_TIMEOUT=${CONTAINER_STATSD_STOP_TIMEOUT:-15}
readonly START_WAIT=${CONTAINER_STATSD_START_WAIT:-1}

usage() {
  echo "usage: $0 start|stop|restart|status [daemon flags...]" >&2
  exit 2
}

die() {
  echo "$NAME: $*" >&2
  exit 1
}

# Prints the pid from the pid file if that process is alive and is the daemon started here
# (its command line holds the `--watchdog disabled` that start adds); removes a stale file.
running_pid() {
  local pid
  [[ -f $PID_FILE ]] || return 1
  pid=$(<"$PID_FILE")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    if [[ ! -r /proc/$pid/cmdline ]] || tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- '--watchdog disabled'; then
      echo "$pid"
      return 0
    fi
  fi
  rm -f -- "$PID_FILE"
  return 1
}

# Fills the global array CMD with the program to run.
resolve_command() {
  local arch deno task
  if [[ -n ${CONTAINER_STATSD_BIN:-} ]]; then
    [[ -x $CONTAINER_STATSD_BIN ]] || die "CONTAINER_STATSD_BIN=$CONTAINER_STATSD_BIN is not executable"
    CMD=("$CONTAINER_STATSD_BIN")
    return
  fi
  case $(uname -m) in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) arch=$(uname -m) ;;
  esac
  if [[ -x $SCRIPT_DIR/dist/$NAME-$arch ]]; then
    CMD=("$SCRIPT_DIR/dist/$NAME-$arch")
    return
  fi
  deno=${DENO:-$(command -v deno || true)}
  [[ -n $deno ]] || die "no $SCRIPT_DIR/dist/$NAME-$arch and no deno on PATH (set CONTAINER_STATSD_BIN or DENO)"
  [[ -f $SCRIPT_DIR/deno.json ]] || die "no $SCRIPT_DIR/deno.json to read the start task from"
  # shellcheck disable=SC2016 # JavaScript, not shell.
  task=$("$deno" eval --no-config '
    const t = JSON.parse(Deno.readTextFileSync(Deno.args[0])).tasks?.start;
    console.log(typeof t === "object" && t !== null ? t.command ?? "" : t ?? "");
  ' "$SCRIPT_DIR/deno.json") || die "cannot read tasks.start from $SCRIPT_DIR/deno.json"
  # The task is one plain command line: `deno run <flags> main.ts`.
  [[ $task =~ ^deno\ run\ [A-Za-z0-9_=,./:@\ -]+$ ]] ||
    die "tasks.start in deno.json is not a plain 'deno run ...' command: $task"
  read -r -a CMD <<<"$task"
  CMD[0]=$deno
  local last=$((${#CMD[@]} - 1))
  if [[ ${CMD[$last]} != /* ]]; then
    CMD[last]=$SCRIPT_DIR/${CMD[$last]}
  fi
}

start() {
  local pid
  if pid=$(running_pid); then
    echo "$NAME is already running (pid $pid); not starting another" >&2
    return 1
  fi
  resolve_command
  mkdir -p -- "$RUN_DIR" "$LOG_DIR"
  # The daemon must not see a systemd it does not talk to.
  unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
  # The pid file gets the pid that exec turns into the daemon, with or without setsid's fork.
  # shellcheck disable=SC2016 # expanded by the inner bash, not here.
  local launch=(bash -c 'echo "$$" >"$0" && exec "$@"' "$PID_FILE" "${CMD[@]}" "$@" --watchdog disabled)
  rm -f -- "$PID_FILE"
  {
    printf '\n=== %s: %s start:' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$NAME"
    printf ' %q' "${CMD[@]}" "$@" --watchdog disabled
    printf '\n'
  } >>"$LOG_FILE"
  # A new session: the terminal's hangup does not reach the daemon, and its process group
  # (the daemon and its `docker` children) can be killed as a whole as a last resort.
  if command -v setsid >/dev/null; then
    setsid "${launch[@]}" </dev/null >>"$LOG_FILE" 2>&1 &
  else
    nohup "${launch[@]}" </dev/null >>"$LOG_FILE" 2>&1 &
  fi
  local waited=0
  until [[ -s $PID_FILE ]] || ((waited >= 50)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  sleep "$START_WAIT"
  if pid=$(running_pid); then
    echo "$NAME started (pid $pid); log: $LOG_FILE"
    return 0
  fi
  echo "$NAME failed to start; last lines of $LOG_FILE:" >&2
  tail -n 20 -- "$LOG_FILE" >&2
  return 1
}

stop() {
  local pid waited=0
  if ! pid=$(running_pid); then
    echo "$NAME is not running"
    return 0
  fi
  # SIGTERM to the daemon only: it stops its `docker` children and publishes the partial interval.
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((waited < STOP_TIMEOUT * 10)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$NAME (pid $pid) still running after ${STOP_TIMEOUT}s; sending SIGKILL" >&2
    # Its whole process group when it leads one (started through setsid), else the daemon.
    if [[ $(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') == "$pid" ]]; then
      kill -KILL -- "-$pid" 2>/dev/null || true
    else
      kill -KILL "$pid" 2>/dev/null || true
    fi
    waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < 50)); do
      sleep 0.1
      waited=$((waited + 1))
    done
  fi
  rm -f -- "$PID_FILE"
  echo "$NAME stopped"
}

status() {
  local pid
  if pid=$(running_pid); then
    echo "$NAME is running (pid $pid)"
    return 0
  fi
  echo "$NAME is not running"
  return 3
}

[[ $# -ge 1 ]] || usage
command=$1
shift
case $command in
  start) start "$@" ;;
  stop) stop ;;
  restart)
    stop
    start "$@"
    ;;
  status) status ;;
  *) usage ;;
esac
