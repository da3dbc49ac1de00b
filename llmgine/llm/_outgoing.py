"""Building a provider's HTTP requests from what does not change between them.

:meth:`httpx.AsyncClient.build_request` merges the client's headers, cookies
and query parameters into every request, copies the headers three times and
encodes the body as it goes: for a provider, which sends the same headers on
every call, that is most of the client-side cost of a request but the socket
work. :class:`RequestTemplate` merges the headers once per client (again
whenever the client's headers change) and builds each request with the
``Host`` and ``Content-Length`` headers ``build_request`` would add, in the
same order, so the bytes on the wire are the same. A client holding cookies or
query parameters takes ``build_request`` as before.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

__all__ = ["RequestTemplate"]

#: Headers ``build_request`` treats specially: a template that holds one of
#: them leaves the building to it.
_SPECIAL = ("host", "content-length", "transfer-encoding")

_Raw = list[tuple[bytes, bytes]]
_Merged = tuple[_Raw | None, frozenset[str]]


class RequestTemplate:
    """The POST requests of one provider: ``headers`` on top of the client's.

    ``timeouts`` is the ``timeout`` extension every request carries (httpx's
    :meth:`httpx.Timeout.as_dict`).
    """

    __slots__ = ("_cached", "_headers", "_timeouts", "_wire_headers")

    def __init__(self, headers: Mapping[str, str], timeouts: dict[str, float | None]):
        self._headers = dict(headers)
        self._wire_headers = httpx.Headers(self._headers)
        self._timeouts = timeouts
        # the client, its headers when merged, and what _merged makes of them
        self._cached: tuple[httpx.AsyncClient, _Raw, _Merged] | None = None

    def build(
        self,
        client: httpx.AsyncClient,
        url: httpx.URL,
        body: bytes,
        extra: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """The request ``client.build_request`` would make: a POST of ``body`` to
        ``url`` with the template's headers, and ``extra`` headers on top."""
        head = None
        if not (client.cookies or client.params):
            head, names = self._merged(client)
            if head is not None and extra:
                if any(name.lower() in names for name in extra):
                    head = None  # one replaces a header: build_request knows how
                else:
                    head = [*head, *((k.encode(), v.encode()) for k, v in extra.items())]
        if head is None:
            headers = self._wire_headers if not extra else {**self._headers, **extra}
            return client.build_request(
                "POST",
                url,
                content=body,
                headers=headers,
                extensions={"timeout": self._timeouts},
            )
        host = (b"Host", url.netloc)
        if body:
            raw = [host, *head, (b"Content-Length", b"%d" % len(body))]
        else:  # no content: build_request puts the length beside the host
            raw = [host, (b"Content-Length", b"0"), *head]
        request = httpx.Request(
            "POST",
            url,
            headers=raw,
            stream=httpx.ByteStream(body),
            extensions={"timeout": self._timeouts},
        )
        request.read()  # as build_request's: .content readable (by event hooks)
        return request

    def _merged(self, client: httpx.AsyncClient) -> _Merged:
        """The client's headers with the template's on top (None when one of
        them is special) and their names in lower case, merged again only when
        the client's headers change."""
        defaults = client.headers.raw
        cached = self._cached
        if cached is not None and cached[0] is client and cached[1] == defaults:
            return cached[2]
        merged = httpx.Headers(client.headers)
        merged.update(self._wire_headers)
        head = None if any(name in merged for name in _SPECIAL) else merged.raw
        result = (head, frozenset(name.lower() for name in merged))
        self._cached = (client, defaults, result)
        return result
