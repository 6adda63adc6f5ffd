"""sim_monitor: collects what run_sim reports, from the topics (as any ROS tool would)."""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.node import Node

from synergy_control.ros import qos
from synergy_control.ros.conversions import status_values
from synergy_control.ros.topics import DIAGNOSTICS_TOPIC, EPISODE_TOPIC


def parse_episode(status: DiagnosticStatus) -> dict:
    """Parse an /sim/episode message into typed values (floats are repr-exact)."""
    values = status_values(status)
    return {'episode': int(values['episode']), 'seed': int(values['seed']),
            'return': float(values['return']), 'length': int(values['length']),
            'terminated': values['terminated'] == 'True',
            'truncated': values['truncated'] == 'True', 'end': values['end'],
            'task': values['task']}


class SimMonitor(Node):
    """Episode statistics measured in the ROS loop and the newest diagnostics per source."""

    def __init__(self, node_name: str = 'sim_monitor', **kwargs):
        super().__init__(node_name, **kwargs)
        self.episodes: list[dict] = []
        self.diagnostics: dict[str, dict[str, str]] = {}
        self.create_subscription(DiagnosticStatus, EPISODE_TOPIC, self._on_episode, qos.EVENTS)
        self.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, self._on_diagnostics,
                                 qos.EVENTS)

    def _on_episode(self, msg: DiagnosticStatus) -> None:
        self.episodes.append(parse_episode(msg))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.diagnostics[status.name] = status_values(status)

    def latest(self, suffix: str) -> dict[str, str]:
        """Return the newest key-values of the status whose name ends with ``suffix``."""
        return next((v for k, v in self.diagnostics.items() if k.endswith(suffix)), {})
