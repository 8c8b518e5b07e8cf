"""clamp.verify"""
