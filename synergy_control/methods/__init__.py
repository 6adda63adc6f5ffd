"""The synergy methods (SOLAR, SAR, EAR), each a plug-in of the policy registry and trainer."""
