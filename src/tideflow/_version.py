"""The version of tideflow."""

__version__ = "0.1.0"
