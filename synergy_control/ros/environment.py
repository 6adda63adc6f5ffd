"""DDS environment of the nodes: loopback discovery, an isolated domain, Fast DDS.

The environment variables are read when rclpy creates its context, so they must be set
before ``rclpy.init``. Simulation runs, tests and benchmarks must never discover or disturb
other machines' graphs, hence LOCALHOST unless the user chose a range explicitly.
"""

from __future__ import annotations

import os

DEFAULT_RMW = 'rmw_fastrtps_cpp'
MAX_RUN_DOMAIN = 100


def run_domain_id(pid: int | None = None) -> int:
    """Derive a domain id in 1..100 from a process id (the current one by default).

    In-process graphs (``run_sim``, tests, benchmarks) use it so that concurrent runs on one
    host do not talk to each other.
    """
    return 1 + (os.getpid() if pid is None else pid) % MAX_RUN_DOMAIN


def ensure_local_dds(domain_id: int | None = None) -> dict[str, str]:
    """Set the DDS variables that are unset; return the values in force.

    ``ROS_AUTOMATIC_DISCOVERY_RANGE`` becomes ``LOCALHOST`` unless the user set a range,
    ``RMW_IMPLEMENTATION`` becomes Fast DDS unless set, and ``ROS_DOMAIN_ID`` becomes
    ``domain_id`` when one is given and the user has not chosen a domain. Separate processes
    of one graph (sim_bridge and synergy_controller started by hand) pass no ``domain_id``
    so that they meet in the user's domain.
    """
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('RMW_IMPLEMENTATION', DEFAULT_RMW)
    if domain_id is not None:
        if not 0 <= domain_id <= 232:
            raise ValueError(f'ROS domain id must be in 0..232, got {domain_id}')
        os.environ.setdefault('ROS_DOMAIN_ID', str(domain_id))
    keys = ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'RMW_IMPLEMENTATION', 'ROS_DOMAIN_ID')
    return {key: os.environ[key] for key in keys if key in os.environ}
