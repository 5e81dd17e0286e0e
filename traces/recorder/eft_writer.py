"""Write ExpertFlow's canonical trace format (.eft) from Python: numpy + json + zlib only.

Layout (traces/canonical.ts): b"EFTRACE1", uint32 LE header length, JSON header, zero padding to 8,
then each column's little-endian bytes at header.columns[i].offset from the data start (8-aligned),
each with its length and CRC32. Written to a temporary file and renamed, so a crash leaves nothing.
"""
import json
import os
import zlib

import numpy as np

_DTYPES = {"int32": np.int32, "uint8": np.uint8, "uint16": np.uint16, "float32": np.float32}
_COLUMNS = [("request", "int32"), ("position", "int32"), ("phase", "uint8"), ("tokenId", "int32"),
            ("present", "uint8"), ("experts", "uint16"), ("weights", "float32"),
            ("routerProbs", "float32"), ("lookahead", "uint16"), ("predicted", "uint16")]


def _align8(n):
    return (n + 7) & ~7


def write_eft(path, model, source, columns, lookahead_depth=0, prediction_depth=0):
    """columns: dict name -> 1-D array (omit optional ones); model: {name, layers, experts, topK}."""
    tokens = int(len(columns["request"]))
    entries, blobs, offset = [], [], 0
    for name, dtype in _COLUMNS:
        if name not in columns or columns[name] is None:
            continue
        little_endian = "<" + np.dtype(_DTYPES[dtype]).str[1:]
        data = np.ascontiguousarray(np.asarray(columns[name]).reshape(-1), dtype=_DTYPES[dtype])
        data = data.astype(little_endian, copy=False)
        raw = data.tobytes()
        crc = zlib.crc32(raw) & 0xFFFFFFFF
        entries.append({"name": name, "dtype": dtype, "length": int(data.size), "offset": offset, "crc32": crc})
        blobs.append(raw + b"\0" * (_align8(len(raw)) - len(raw)))
        offset += _align8(len(raw))
    header = {"format": "expertflow-trace", "version": 1, "model": model, "source": source, "tokens": tokens,
              "lookaheadDepth": int(lookahead_depth), "columns": entries}
    if prediction_depth:
        header["predictionDepth"] = int(prediction_depth)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pre = b"EFTRACE1" + len(hb).to_bytes(4, "little") + hb
    pre += b"\0" * (_align8(len(pre)) - len(pre))
    tmp = f"{os.path.dirname(os.path.abspath(path))}/.{os.path.basename(path)}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(pre)
            for b in blobs:
                f.write(b)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
