"""ROS test fixtures: loopback DDS in a domain of this run's own, a context per test.

The variables are forced here (not just defaulted): a test run must never join the
developer's graph, whatever the shell exports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from synergy_control.ros.environment import ensure_local_dds, run_domain_id

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['ROS_DOMAIN_ID'] = str(run_domain_id())
ensure_local_dds()

import rclpy  # noqa: E402  (after the DDS environment, on purpose)
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402

from synergy_control.export import export_untrained  # noqa: E402


@pytest.fixture(scope='session')
def local_dds() -> dict[str, str]:
    """The DDS environment every ROS test runs in (loopback, isolated domain)."""
    values = ensure_local_dds()
    assert values['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    return values


#: Prepended to a deploy-path script: refuses to import any module of BLOCKED (or under it).
BLOCKER = textwrap.dedent('''
    import importlib.abc
    import sys


    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if any(name == blocked or name.startswith(blocked + '.') for blocked in BLOCKED):
                raise ImportError(f'{name} is blocked: the deployment path must not need it')
            return None


    sys.meta_path.insert(0, Block())


    def blocked_modules():
        return sorted(m for m in sys.modules
                      if any(m == b or m.startswith(b + '.') for b in BLOCKED))
''')


@pytest.fixture
def run_blocking(local_dds) -> Callable[[tuple[str, ...], str, str], None]:
    """Run a script in a fresh interpreter, imports of ``blocked`` refused; expect ``done``.

    The script runs in the repository root, in this run's loopback DDS domain, and can call
    ``blocked_modules()`` to list what of ``blocked`` got loaded anyway.
    """
    root = Path(__file__).resolve().parents[2]

    def run(blocked: tuple[str, ...], script: str, done: str) -> None:
        source = f'BLOCKED = {blocked!r}\n' + BLOCKER + textwrap.dedent(script)
        result = subprocess.run([sys.executable, '-c', source], cwd=root, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert done in result.stdout
    return run


class Graph:
    """Nodes of one test on one executor, with a spin-until helper."""

    def __init__(self, context: Context):
        self.context = context
        self.executor = SingleThreadedExecutor(context=context)
        self.nodes: list[Node] = []

    def add(self, node: Node) -> Node:
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def spin_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Spin until ``predicate()`` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.01)
        return predicate()

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.01)


@pytest.fixture
def ros_graph(local_dds: dict[str, str]) -> Iterator[Graph]:
    """A fresh rclpy context and executor; nodes added to it are destroyed afterwards."""
    context = Context()
    rclpy.init(context=context)
    graph = Graph(context)
    try:
        yield graph
    finally:
        graph.executor.shutdown()
        for node in graph.nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)


@pytest.fixture(scope='session')
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Untrained policies exported once per session through the real exporter."""
    folder = tmp_path_factory.mktemp('policies')
    paths = {}
    for robot in ('half_cheetah', 'walker_7_main', 'hopper_4'):
        paths[robot] = folder / f'{robot}.onnx'
        export_untrained(robot, paths[robot])
    corrupt = folder / 'corrupt.onnx'
    corrupt.write_bytes(b'\x08\x07this is not a protobuf' * 10)
    paths['corrupt'] = corrupt
    return paths
