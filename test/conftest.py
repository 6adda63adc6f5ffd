"""Test-session settings: ROS 2 DDS stays on loopback in a domain of this run's own."""

import os

# Set before any test imports rclpy: Fast DDS would otherwise multicast onto the network.
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
