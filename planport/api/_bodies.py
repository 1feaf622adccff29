"""Receiving a pushed file: the request body streamed to disk as it arrives, never held in
memory, gunzipped on the way when sent with `Content-Encoding: gzip`, within a size limit
(counted after decompression: a small gzip body cannot unpack into an unbounded file) and an
idle timeout. A push that breaks off (the client leaves, the limit is passed) raises; the
caller deletes what was written."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from planport.api._answers import ApiProblem

# Written in slices of this size from a worker thread: the event loop never waits on the disk,
# and a slow disk costs one thread hop per MiB, not one per network chunk.
WRITE_SLICE = 1 << 20
_GZIP = 16 + zlib.MAX_WBITS  # zlib's wbits for a gzip wrapper


@dataclass(frozen=True, slots=True)
class BodyLimits:
    max_bytes: int
    idle_timeout_s: float


def size_exceeded(limit: int) -> str:
    return (
        f"Bad request or size limit exceeded: the file is larger than this server accepts "
        f"({limit:,} bytes). Split it, or ask the administrator to raise "
        "PLANPORT_API_MAX_PUSH_BYTES."
    )


async def receive_file(request: Request, path: Path, limits: BodyLimits) -> int:
    """Write the request's body to `path`; returns the bytes written. Raises ApiProblem(400)
    for a body past the limit, a broken gzip stream or one that stalls, and ClientDisconnect
    when the client leaves."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise ApiProblem(400, f"Content-Encoding {encoding!r} is not supported: send gzip or none.")
    gunzip = _Gunzip() if encoding != "identity" else None
    written = received = 0
    pending = bytearray()
    with path.open("wb") as handle:
        chunks = request.stream().__aiter__()
        while (chunk := await _next_chunk(chunks, limits.idle_timeout_s)) is not None:
            received += len(chunk)
            if gunzip is not None:
                room = limits.max_bytes - written
                written += await run_in_threadpool(gunzip.inflate, chunk, handle, room)
            else:
                written += len(chunk)
                pending += chunk
            if written > limits.max_bytes:
                raise ApiProblem(400, size_exceeded(limits.max_bytes))
            if len(pending) >= WRITE_SLICE:
                await run_in_threadpool(handle.write, pending)
                pending = bytearray()
        if gunzip is not None and received and not gunzip.ended:
            raise ApiProblem(400, "The gzip stream stops before its end: the push was cut off.")
        await run_in_threadpool(handle.write, pending)
    return written


async def _next_chunk(chunks: AsyncIterator[bytes], idle_timeout_s: float) -> bytes | None:
    """The body's next chunk, None at its end; ApiProblem when none comes within the timeout."""
    with anyio.move_on_after(idle_timeout_s):
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return None
    raise ApiProblem(400, f"The push sent nothing for {idle_timeout_s:g} s and was given up.")


class _Gunzip:
    """A gzip body unpacked as it arrives, member after member: gzip(1) writes `cat a.gz b.gz`
    as one valid stream whose text is both files', and stopping at the first member's end
    would import part of the file without a word."""

    def __init__(self) -> None:
        self._member = zlib.decompressobj(_GZIP)
        self._members = 1

    @property
    def ended(self) -> bool:
        """Whether the body so far ends where a gzip member does."""
        return self._member.eof

    def inflate(self, chunk: bytes, handle: BinaryIO, room: int) -> int:
        """Decompress `chunk` into `handle` a slice at a time (a bomb never sits in memory);
        returns the bytes written, stopping once they pass `room`. Raises ApiProblem(400)
        for bytes that are not gzip."""
        total = 0
        data = chunk
        while data and total <= room:
            if self._member.eof:  # what follows a member's end is the next member
                self._member = zlib.decompressobj(_GZIP)
                self._members += 1
            try:
                piece = self._member.decompress(data, WRITE_SLICE)
            except zlib.error:
                raise ApiProblem(400, self._not_gzip()) from None
            handle.write(piece)
            total += len(piece)
            data = self._member.unused_data if self._member.eof else self._member.unconsumed_tail
        return total

    def _not_gzip(self) -> str:
        if self._members == 1:
            return "The body is not valid gzip (Content-Encoding: gzip)."
        return (
            f"The body is not valid gzip (Content-Encoding: gzip): after the end of its gzip "
            f"stream (member {self._members - 1}) come bytes that are not gzip."
        )
