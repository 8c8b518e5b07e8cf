"""clamp.telemetry"""
