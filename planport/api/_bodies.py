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
    gunzip = zlib.decompressobj(_GZIP) if encoding != "identity" else None
    written = 0
    pending = bytearray()
    with path.open("wb") as handle:
        chunks = request.stream().__aiter__()
        while (chunk := await _next_chunk(chunks, limits.idle_timeout_s)) is not None:
            if gunzip is not None:
                room = limits.max_bytes - written
                written += await run_in_threadpool(_inflate, gunzip, chunk, handle, room)
            else:
                written += len(chunk)
                pending += chunk
            if written > limits.max_bytes:
                raise ApiProblem(400, size_exceeded(limits.max_bytes))
            if len(pending) >= WRITE_SLICE:
                await run_in_threadpool(handle.write, pending)
                pending = bytearray()
        if gunzip is not None and not gunzip.eof:
            raise ApiProblem(400, "The gzip stream ends before its end: the push was cut off.")
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


def _inflate(gunzip: zlib._Decompress, chunk: bytes, handle: BinaryIO, room: int) -> int:
    """Decompress `chunk` into `handle` a slice at a time (a bomb never sits in memory);
    returns the bytes written, stopping once they pass `room`."""
    total = 0
    data = chunk
    try:
        while data and total <= room:
            piece = gunzip.decompress(data, WRITE_SLICE)
            handle.write(piece)
            total += len(piece)
            data = gunzip.unconsumed_tail
            if gunzip.eof:
                break
    except zlib.error:
        raise ApiProblem(400, "The body is not valid gzip (Content-Encoding: gzip).") from None
    return total
