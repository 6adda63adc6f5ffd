"""Action scaling: policy action in [-1, 1] → MuJoCo ctrl → actuator command (effort).

Commands on the ROS side are joint efforts in actuator order (N·m for the motors here,
``ctrl × gear``), the convention of ros2_control's effort forward_command_controller. The
environment, the exporter's card, the bridge and the policy node all use this one class.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from synergy_control.robots import Robot


@dataclass(frozen=True)
class ActionScaling:
    """Affine maps between policy actions, MuJoCo controls and effort commands."""

    ctrl_low: np.ndarray
    ctrl_high: np.ndarray
    gear: np.ndarray

    @classmethod
    def from_robot(cls, robot: Robot) -> 'ActionScaling':
        """Scaling read from the robot's actuator ctrlrange and gear."""
        return cls(robot.ctrl_range[:, 0].copy(), robot.ctrl_range[:, 1].copy(), robot.gear.copy())

    @classmethod
    def from_dict(cls, card_action: dict) -> 'ActionScaling':
        """Scaling recorded in a policy card."""
        return cls(np.asarray(card_action['ctrl_low'], dtype=np.float64),
                   np.asarray(card_action['ctrl_high'], dtype=np.float64),
                   np.asarray(card_action['gear'], dtype=np.float64))

    def to_dict(self) -> dict:
        """Describe the scaling for a policy card (with the resulting command limits)."""
        low, high = self.command_limits
        return {'space': [-1.0, 1.0], 'command_interface': 'effort',
                'ctrl_low': self.ctrl_low.tolist(), 'ctrl_high': self.ctrl_high.tolist(),
                'gear': self.gear.tolist(), 'command_low': low.tolist(),
                'command_high': high.tolist()}

    @property
    def size(self) -> int:
        """Number of actuators."""
        return int(self.gear.size)

    @property
    def command_limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Lowest and highest effort command per actuator."""
        ends = np.stack([self.ctrl_low * self.gear, self.ctrl_high * self.gear])
        return ends.min(axis=0), ends.max(axis=0)

    @cached_property
    def _mid(self) -> np.ndarray:
        """Centre of each ctrlrange (computed once: every env step reads it)."""
        return 0.5 * (self.ctrl_high + self.ctrl_low)

    @cached_property
    def _half(self) -> np.ndarray:
        """Half-width of each ctrlrange."""
        return 0.5 * (self.ctrl_high - self.ctrl_low)

    def action_to_ctrl(self, action: np.ndarray) -> np.ndarray:
        """Clip to [-1, 1] and map onto ctrlrange (exact identity for ctrlrange [-1, 1]).

        The clip is ``np.minimum(np.maximum(...))``, what ``np.clip`` computes (NaN stays NaN)
        without its Python wrapper: a single env step calls this.
        """
        return self._mid + np.minimum(np.maximum(action, -1.0), 1.0) * self._half

    def ctrl_to_action(self, ctrl: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`action_to_ctrl` for controls inside ctrlrange."""
        return np.clip((ctrl - self._mid) / self._half, -1.0, 1.0)

    def action_to_command(self, action: np.ndarray) -> np.ndarray:
        """Effort commands for a policy action (within limits for finite actions)."""
        return self.action_to_ctrl(action) * self.gear

    def command_to_action(self, command: np.ndarray) -> np.ndarray:
        """Return the policy action an effort command stands for (clipped to [-1, 1])."""
        return self.ctrl_to_action(np.asarray(command, dtype=np.float64) / self.gear)

    def command_to_ctrl(self, command: np.ndarray) -> np.ndarray:
        """Return the ctrl the simulator applies for an effort command (as ``step_command``).

        The policy node feeds this ctrl of its last command to observations that need it.
        """
        return self.action_to_ctrl(self.command_to_action(command))
