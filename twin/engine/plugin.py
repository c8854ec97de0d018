"""What the twin's plugins share: serving gRPC the way Pulumi's plugins do (the port on stdout,
exit when the engine that started them is gone) and the protocol's property structs."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2

# Up to 400 MB a message, as the engine's own clients allow.
_OPTIONS = [
    ("grpc.max_receive_message_length", 400 * 1024 * 1024),
    ("grpc.max_send_message_length", 400 * 1024 * 1024),
]


def serve(register: Callable[[grpc.Server], None], engine_address: str | None) -> None:
    """Serves on a free port of 127.0.0.1, prints it (the engine reads it from the first line of
    stdout) and serves until the engine stops answering, as Pulumi's plugins do."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=_OPTIONS)
    register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    if engine_address:
        threading.Thread(target=_exit_without_engine, args=(engine_address,), daemon=True).start()
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        # The engine interrupts its plugins when it is done with them: not an error.
        server.stop(grace=None)


def _exit_without_engine(address: str, every: float = 1.0, tries: int = 5) -> None:
    host, _, port = address.rpartition(":")
    failures = 0
    while True:
        time.sleep(every)
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=every):
                failures = 0
        except OSError:
            failures += 1
            if failures >= tries:
                # An engine killed mid-deploy leaves no one to stop us: do not linger.
                os._exit(0)


def to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A property struct as plain values (numbers that are whole as ints)."""
    return _whole(json_format.MessageToDict(struct))  # type: ignore[no-any-return]


def _whole(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct
