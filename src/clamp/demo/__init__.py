"""The embedded demo: the whole main job on sample images, offline, in seconds."""
