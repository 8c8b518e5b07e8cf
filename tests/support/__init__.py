"""Real components for the tests: a Debian `docker-registry`, its token issuer, image pushing, and
a latency-adding reverse proxy.

Nothing here mocks the registry or the crypto: the fixtures in `tests/conftest.py` start the real
distribution binary, and the token issuer signs real JWTs the registry checks. The modules are
imported as `tests.support.<module>` (`tests/conftest.py` puts the repository root on `sys.path`;
scripts do the same). `latency_proxy` is standard-library only, for benchmark scripts.
"""
