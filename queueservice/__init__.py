"""queueservice: a local, discovery-driven stand-in for Google's task queue APIs."""

__version__ = "0.1.0"
