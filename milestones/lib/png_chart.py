"""Line charts as PNG files with NumPy and zlib only: milestones draw their curves without matplotlib.

A PNG is an 8-byte signature and a list of chunks (length, type, data, CRC-32). We write the
three a picture needs: IHDR (size, 8-bit RGB), IDAT (zlib-compressed rows, each row led by
filter byte 0 = "none") and IEND. Text uses a 3x5 pixel font, upper case only.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

WHITE, BLACK, GRAY, LIGHT = (255, 255, 255), (40, 40, 40), (150, 150, 150), (228, 228, 228)
BLUE, ORANGE = (31, 119, 180), (230, 120, 20)

FONT = {  # each glyph: 5 rows of 3 pixels
    "A": "010/101/111/101/101", "B": "110/101/110/101/110", "C": "011/100/100/100/011",
    "D": "110/101/101/101/110", "E": "111/100/110/100/111", "F": "111/100/110/100/100",
    "G": "011/100/101/101/011", "H": "101/101/111/101/101", "I": "111/010/010/010/111",
    "J": "001/001/001/101/010", "K": "101/101/110/101/101", "L": "100/100/100/100/111",
    "M": "101/111/111/101/101", "N": "110/101/101/101/101", "O": "010/101/101/101/010",
    "P": "110/101/110/100/100", "Q": "010/101/101/110/011", "R": "110/101/110/101/101",
    "S": "011/100/010/001/110", "T": "111/010/010/010/010", "U": "101/101/101/101/111",
    "V": "101/101/101/101/010", "W": "101/101/111/111/101", "X": "101/101/010/101/101",
    "Y": "101/101/010/010/010", "Z": "111/001/010/100/111", "0": "111/101/101/101/111",
    "1": "010/110/010/010/111", "2": "110/001/010/100/111", "3": "110/001/010/001/110",
    "4": "101/101/111/001/001", "5": "111/100/110/001/110", "6": "011/100/111/101/111",
    "7": "111/001/010/010/010", "8": "111/101/111/101/111", "9": "111/101/111/001/110",
    ".": "000/000/000/000/010", ",": "000/000/000/010/100", "%": "101/001/010/100/101",
    "-": "000/000/111/000/000", ":": "000/010/000/010/000", "/": "001/001/010/100/100",
    "(": "001/010/010/010/001", ")": "100/010/010/010/100", "=": "000/111/000/111/000",
    " ": "000/000/000/000/000",
}


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an (height, width, 3) uint8 array as a PNG file."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 array, got {rgb.shape} {rgb.dtype}")
    height, width, _ = rgb.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, width * 3)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


class Canvas:
    """An RGB picture to draw on; (x, y) are pixel coordinates, y pointing down."""

    def __init__(self, width: int, height: int) -> None:
        self.pixels = np.full((height, width, 3), WHITE, dtype=np.uint8)

    def dot(self, x: float, y: float, color, size: int = 1) -> None:
        x0, y0 = int(round(x)), int(round(y))
        self.pixels[max(y0, 0) : max(y0 + size, 0), max(x0, 0) : max(x0 + size, 0)] = color

    def line(self, x0: float, y0: float, x1: float, y1: float, color, size: int = 1) -> None:
        steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        for t in np.linspace(0.0, 1.0, steps + 1):
            self.dot(x0 + t * (x1 - x0), y0 + t * (y1 - y0), color, size)

    def text(self, x: int, y: int, string: str, color=BLACK, scale: int = 2) -> None:
        for i, char in enumerate(string.upper()):
            for row, bits in enumerate(FONT.get(char, FONT[" "]).split("/")):
                for col, bit in enumerate(bits):
                    if bit == "1":
                        self.dot(x + (4 * i + col) * scale, y + row * scale, color, scale)

    def save(self, path: Path) -> None:
        Path(path).write_bytes(png_bytes(self.pixels))


def text_width(string: str, scale: int = 2) -> int:
    return (4 * len(string) - 1) * scale


def nice_ticks(low: float, high: float, count: int = 4) -> np.ndarray:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering [low, high]."""
    raw = max(high - low, 1e-12) / count
    power = 10.0 ** np.floor(np.log10(raw))
    step = power * min((m for m in (1, 2, 5, 10) if m * power >= raw), default=10)
    return np.arange(np.floor(low / step), np.ceil(high / step) + 0.5) * step


def panel(canvas: Canvas, box: tuple[int, int, int, int], title: str, series: dict) -> None:
    """Draw `series` ({label: (color, values per epoch)}) as lines in `box` = (left, top, width, height)."""
    left, top, width, height = box
    values = np.concatenate([np.asarray(v, dtype=float) for _, v in series.values()])
    ticks = nice_ticks(float(values.min()), float(values.max()))
    low, high = float(ticks[0]), float(ticks[-1])
    decimals = max(0, -int(np.floor(np.log10(ticks[1] - ticks[0]))))
    epochs = max(len(v) for _, v in series.values())
    to_x = lambda i: left + (i / max(epochs - 1, 1)) * width
    to_y = lambda v: top + (high - v) / (high - low) * height
    canvas.text(left, top - 22, title)
    for v in ticks:  # horizontal grid lines with their values
        canvas.line(left, to_y(v), left + width, to_y(v), LIGHT)
        label = f"{v:.{decimals}f}"
        canvas.text(left - 8 - text_width(label), int(to_y(v)) - 5, label, GRAY)
    canvas.line(left, top, left, top + height, GRAY)
    canvas.line(left, top + height, left + width, top + height, GRAY)
    for i in sorted({0, (epochs - 1) // 2, epochs - 1}):  # epoch labels, counted from 1
        label = str(i + 1)
        canvas.text(int(to_x(i)) - text_width(label) // 2, top + height + 8, label, GRAY)
    canvas.text(left + width // 2 - text_width("EPOCH") // 2, top + height + 24, "EPOCH", GRAY)
    legend_x = left + width
    for label, (color, ys) in reversed(series.items()):  # legend right-aligned in the title row
        legend_x -= text_width(label) + 40
        canvas.line(legend_x, top - 18, legend_x + 20, top - 18, color, size=2)
        canvas.text(legend_x + 26, top - 22, label, color)
        points = [(to_x(i), to_y(v)) for i, v in enumerate(ys)]
        for (xa, ya), (xb, yb) in zip(points, points[1:], strict=False):
            canvas.line(xa, ya, xb, yb, color, size=2)
        if len(points) == 1:
            canvas.dot(*points[0], color, size=4)


def training_curves(path: Path, history: dict[str, list[float]], title: str) -> None:
    """Save loss and accuracy per epoch (keys train_loss, test_loss, train_acc, test_acc) as a PNG."""
    canvas = Canvas(900, 360)
    canvas.text(20, 12, title, BLACK, scale=3)
    panel(canvas, (90, 80, 330, 220), "LOSS", {"TRAIN": (BLUE, history["train_loss"]), "TEST": (ORANGE, history["test_loss"])})
    accuracy = {"TRAIN": (BLUE, [100 * a for a in history["train_acc"]]), "TEST": (ORANGE, [100 * a for a in history["test_acc"]])}
    panel(canvas, (540, 80, 330, 220), "ACCURACY %", accuracy)
    canvas.save(path)
