"""clamp.update"""
