#!/usr/bin/python3
"""Write test/fixtures/tiny.safetensors, an interop fixture for test/safetensors.test.ts.

The reference library (Debian's python3-safetensors) is not packaged for this Debian release
(bookworm), and PyPI is not reachable here, so this script builds the bytes by hand with only the
Python standard library (struct + json), following the format spec
(https://huggingface.co/docs/safetensors):

  * 8 bytes: little-endian u64 N, the header length;
  * N bytes: UTF-8 JSON object {"__metadata__": {str: str}, name: {"dtype", "shape",
    "data_offsets": [begin, end]}}, padded with trailing spaces (0x20) so that 8 + N is a
    multiple of 8 (what the reference implementation does);
  * the data section: each tensor row-major, little-endian, offsets relative to its start.

Tensors are laid out the way the reference writer orders them (by dtype alignment, then by name)
and serialised with compact separators, as the reference writer does. It is independent of the
TypeScript code: nothing here is shared with src/io/safetensors.ts.

Run from the repository root:  /usr/bin/python3 scripts/make_safetensors_fixture.py
"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "tiny.safetensors")

# (name, dtype, shape, struct format char, values) -- values are row-major.
TENSORS = [
    ("bias", "F32", [3], "f", [0.5, -1.25, 3.0]),
    ("counts", "I32", [2, 2], "i", [-2147483648, -1, 0, 2147483647]),
    ("empty", "F32", [0, 4], "f", []),
    ("scalar", "F32", [], "f", [0.1]),
    ("weight", "F32", [2, 3], "f", [1e-3, 0.1, -7.0, 1e30, -0.0, 2.5]),
]
METADATA = {"format": "np", "note": "tiny fixture"}


def main():
    header = {"__metadata__": METADATA}
    data = b""
    for name, dtype, shape, fmt, values in TENSORS:
        count = 1
        for d in shape:
            count *= d
        assert count == len(values), name
        blob = struct.pack("<%d%s" % (len(values), fmt), *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(OUT, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    print("wrote %s (%d bytes)" % (os.path.normpath(OUT), 8 + len(text) + len(data)))


if __name__ == "__main__":
    main()
