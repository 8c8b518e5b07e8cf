"""clamp.oci"""
