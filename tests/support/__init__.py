"""Real components for the tests: a Debian `docker-registry`, its token issuer, image pushing, and
a latency-adding reverse proxy.

Nothing here mocks the registry or the crypto: the fixtures in `tests/conftest.py` start the real
distribution binary, and the token issuer signs real JWTs the registry checks. The modules are
importable as `support.<module>` from tests (pytest puts `tests/` on `sys.path`, since `tests/`
is not a package) and from scripts after `sys.path.insert(0, "<repo>/tests")`.
"""
