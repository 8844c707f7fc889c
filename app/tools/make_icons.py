#!/usr/bin/env python3
"""Draws the app icons in static/ (a radar ring around a node: "watching AI traffic").

    python3 app/tools/make_icons.py
"""

import math
import struct
import zlib
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "static"


def png(width, pixels):
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, width, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def draw(size, background, foreground):
    c = (size - 1) / 2
    rows = []
    for y in range(size):
        row = []
        for x in range(size):
            # Rounded square background.
            inset = size * 0.18
            dx = max(abs(x - c) - (c - inset), 0)
            dy = max(abs(y - c) - (c - inset), 0)
            inside = math.hypot(dx, dy) <= inset
            r = math.hypot(x - c, y - c) / size
            mark = abs(r - 0.30) < 0.055 or r < 0.11
            # A gap in the ring, top right, like a sweep.
            if abs(r - 0.30) < 0.055 and x > c and y < c and abs((x - c) + (y - c)) < size * 0.12:
                mark = False
            if not inside:
                row.append((0, 0, 0, 0))
            elif mark:
                row.append(foreground + (255,))
            else:
                row.append(background + (255,))
        rows.append(row)
    return png(size, rows)


def main():
    STATIC.mkdir(exist_ok=True)
    dark, light = (0x3C, 0x44, 0x4D), (0x65, 0xD6, 0xC0)
    for name, size, bg, fg in [
        ("appIcon.png", 36, dark, light),
        ("appIcon_2x.png", 72, dark, light),
        ("appIconAlt.png", 36, light, dark),
        ("appIconAlt_2x.png", 72, light, dark),
    ]:
        (STATIC / name).write_bytes(draw(size, bg, fg))


if __name__ == "__main__":
    main()
