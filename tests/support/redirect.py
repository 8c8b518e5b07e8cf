"""An httpx transport that sends ghcr.io's requests to a local test registry.

The original matrix layout always names `ghcr.io/rocm/dev`; tests reach the real test registry
through this transport (`rocm/dev` becomes the test's own repository). Bytes, digests and
signatures stay real; only the address changes.
"""

from __future__ import annotations

import httpx

from tests.support.registry import RegistryHandle


class ToTestRegistry(httpx.AsyncBaseTransport):
    """Send `https://ghcr.io/v2/rocm/dev/...` to `http://127.0.0.1:PORT/v2/<repo>/...`."""

    def __init__(self, registry: RegistryHandle, repo: str) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.port = registry.port
        self.repo = repo

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.host == "ghcr.io":
            path = url.path.replace("/v2/rocm/dev/", f"/v2/{self.repo}/", 1)
            request.url = url.copy_with(scheme="http", host="127.0.0.1", port=self.port,
                                        path=path)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
