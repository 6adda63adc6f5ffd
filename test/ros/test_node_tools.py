"""The node executables (spin_main): bad parameters and signals end a node cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

NODES = {'sim_bridge': 'synergy_control.ros.sim_bridge',
         'synergy_controller': 'synergy_control.ros.synergy_controller'}


def _start(node: str, *parameters: str) -> subprocess.Popen:
    """Start a node executable in a process group of its own (as a supervisor would)."""
    args = [arg for parameter in parameters for arg in ('-p', parameter)]
    return subprocess.Popen([sys.executable, '-m', NODES[node], '--ros-args', *args],
                            env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _finish(process: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    return process.returncode, err


@pytest.mark.parametrize('node, parameter, named', [
    ('synergy_controller', 'mode:=bogus', "'mode'"),
    ('synergy_controller', 'watchdog_timeout:=-1.0', "'watchdog_timeout'"),
    ('synergy_controller', 'watchdog_timeout:=abc', "'watchdog_timeout'"),
    ('synergy_controller', 'robot:=nope', "'robot' is 'nope', one of: '', walker_2_main"),
    ('sim_bridge', 'robot:=nope', "'robot'"),
    ('sim_bridge', 'realtime_factor:=1000.0', "'realtime_factor'"),
])
def test_invalid_parameter_is_one_line_and_exit_code_2(local_dds, node, parameter, named):
    code, err = _finish(_start(node, parameter))
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and named in lines[0] and 'Traceback' not in err, err


@pytest.mark.parametrize('node', sorted(NODES))
@pytest.mark.parametrize('signals', [1, 3])
def test_sigint_to_the_process_group_stops_a_node_cleanly(local_dds, node, signals):
    """Ctrl-C in a terminal or ``ros2 launch``: the group is signalled (launch adds its own)."""
    process = _start(node, 'use_sim_time:=false')
    timer = threading.Timer(60.0, process.kill)
    timer.start()
    try:
        first = process.stderr.readline()  # the node's start-up log line: it is spinning
        assert '[INFO]' in first, first + process.stderr.read()
        for _ in range(signals):
            os.killpg(process.pid, signal.SIGINT)
            time.sleep(0.02)  # repeated ones land during the shutdown and the exit
        code, err = _finish(process)
    finally:
        timer.cancel()
    assert code == 0, err
    assert 'Traceback' not in err and 'KeyboardInterrupt' not in err, err
