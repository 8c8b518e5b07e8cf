"""Data files shipped with clamp (the Sigstore public-good trusted root)."""
