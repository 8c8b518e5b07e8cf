"""Command-line front end: argument handling and output only, no logic of its own."""
