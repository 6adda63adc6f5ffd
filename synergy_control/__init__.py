"""synergy_control: muscle-synergy reinforcement learning for ROS 2 robot stacks."""

__version__ = '0.1.0'
