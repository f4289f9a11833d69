#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An unmodified fast-path client in Python (standard library only: fcntl.ioctl and ctypes
buffers): opens a blob on /dev/azure_blob, reads it in ranges through the three-buffer ioctl
and checks every byte against a local copy. Run it under LD_PRELOAD=libhvblob-device.so
against `hvblob serve`.

    blob_read.py BLOB LOCAL_COPY [RANGE_BYTES]

Exit 0: every byte matched; 1: a mismatch or an unexpected answer; 2: usage.
"""
import ctypes
import fcntl
import json
import os
import sys


class Response(ctypes.Structure):
    _fields_ = [("status", ctypes.c_uint32), ("response_len", ctypes.c_uint32)]


class RequestSync(ctypes.Structure):
    """struct az_blob_request_sync (the reference uapi, 72 bytes)."""
    _fields_ = [
        ("guid", ctypes.c_uint8 * 16),
        ("timeout", ctypes.c_uint32),
        ("request_len", ctypes.c_uint32),
        ("response_len", ctypes.c_uint32),
        ("data_len", ctypes.c_uint32),
        ("data_valid", ctypes.c_uint32),
        ("request_buffer", ctypes.c_uint64),
        ("response_buffer", ctypes.c_uint64),
        ("data_buffer", ctypes.c_uint64),
        ("response", Response),
    ]


# _IOWR('R', 0xF0, struct az_blob_request_sync)
IOCTL_AZ_BLOB_DRIVER_USER_REQUEST = (3 << 30) | (ctypes.sizeof(RequestSync) << 16) | (ord("R") << 8) | 0xF0


class Device:
    def __init__(self):
        self.fd = os.open("/dev/azure_blob", os.O_RDWR)
        self.response = ctypes.create_string_buffer(4096)
        self.serial = 0

    def request(self, fields, data=None):
        self.serial += 1
        text = json.dumps(fields, separators=(",", ":")).encode()
        req = ctypes.create_string_buffer(text, len(text))
        r = RequestSync()
        guid = os.getpid().to_bytes(8, "little") + self.serial.to_bytes(8, "little")
        ctypes.memmove(r.guid, guid, 16)
        r.timeout = 30000
        r.request_len = len(text)
        r.response_len = len(self.response)
        r.request_buffer = ctypes.addressof(req)
        r.response_buffer = ctypes.addressof(self.response)
        if data is not None:
            r.data_len = len(data)
            r.data_buffer = ctypes.addressof(data)
        fcntl.ioctl(self.fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, r, True)
        if r.response.status != 0:
            raise OSError("response.status 0x%x" % r.response.status)
        return json.loads(self.response.raw[: r.response.response_len])


def main():
    if len(sys.argv) < 3:
        print("usage: blob_read.py BLOB LOCAL_COPY [RANGE_BYTES]", file=sys.stderr)
        return 2
    name, copy = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 65536
    with open(copy, "rb") as f:
        expect = f.read()
    dev = Device()
    opened = dev.request({"operation": "open", "path": name})
    if opened.get("status") != 200:
        print("blob_read.py: open %s: %s" % (name, opened), file=sys.stderr)
        return 1
    session = {k: opened[k] for k in ("fastpathFileHandle", "fastpathSessionToken")}
    data = ctypes.create_string_buffer(size)
    reads = 0
    for pos in range(0, len(expect), size):
        want = min(size, len(expect) - pos)
        ctypes.memset(data, 0xEE, size)
        got = dev.request(dict(session, operation="read", eTag=opened["eTag"], storeFilePosition=pos,
                               bufferOffset=0, readLength=want), data)
        if got.get("status") != 206 or got.get("bytesRead") != want:
            print("blob_read.py: read at %d: %s" % (pos, got), file=sys.stderr)
            return 1
        if data.raw[:want] != expect[pos:pos + want]:
            print("blob_read.py: read at %d: the bytes differ from %s" % (pos, copy), file=sys.stderr)
            return 1
        reads += 1
    closed = dev.request(dict(session, operation="close"))
    if closed.get("status") != 200:
        print("blob_read.py: close: %s" % closed, file=sys.stderr)
        return 1
    os.close(dev.fd)
    print("blob_read.py: %s: %d reads, %d bytes, every byte matched" % (name, reads, len(expect)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
