"""The ROS 2 layer: simulation bridge, policy controller, messages, QoS and DDS setup.

Importing this package does not import rclpy; the node modules do. Call
:func:`synergy_control.ros.environment.ensure_local_dds` before ``rclpy.init``.
"""
