"""clamp.trust"""
