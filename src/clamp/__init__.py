"""clamp: keep CI container images pinned, signed and accounted for."""

__version__ = "0.1.0"
