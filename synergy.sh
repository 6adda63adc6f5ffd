#!/usr/bin/env bash
# One entry point for a fresh machine: sets up .venv (Python 3.11, pinned requirements: the
# runtime, training and test sets and ROS 2 Kilted rclpy + messages from PyPI, see
# requirements/) on first use or when a requirements file changed, then runs what you ask.
#   ./synergy.sh sim [synergy-control sim options]   the simulated walker under the shipped policy
#   ./synergy.sh test [pytest options]               the whole test suite
#   ./synergy.sh <any synergy-control subcommand>    e.g. robots, evaluate, train, export
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
PY=${PYTHON:-python3.11}

READY="$VENV/.synergy-ready"
if [ ! -f "$READY" ] || [ -n "$(find requirements -newer "$READY")" ]; then
  echo "setting up $VENV (first run: a few minutes)..." >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r requirements/dev.txt
  "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
  touch "$READY"
fi

# DDS stays on this machine, in a domain of this run's own (override by exporting them).
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$(( ($$ % 100) + 1 ))}
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
export AMENT_PREFIX_PATH=${AMENT_PREFIX_PATH:-$PWD/$VENV}

cmd=${1:-sim}
shift || true
case "$cmd" in
  test)
    set +e
    "$VENV/bin/python" -m pytest test "$@"
    rc=$?
    [ "$rc" -eq 5 ] && echo "pytest collected no tests: that is a failure" >&2 && rc=1
    exit "$rc"
    ;;
  *)
    exec "$VENV/bin/synergy-control" "$cmd" "$@"
    ;;
esac
