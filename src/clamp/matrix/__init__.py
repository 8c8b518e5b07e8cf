"""clamp.matrix"""
