#!/usr/bin/env python3
"""Fixture for the block decoders of src/io/gguf.c: tests/fixtures/gguf/quants.gguf holds one
tensor per supported quantized type (3 rows x 512 weights of random blocks, f16 scales set to
random finite values), written by the `gguf` package's GGUFWriter; quants_<TYPE>.f32 holds what
the `gguf` package's own dequantizer (gguf.quants, numpy) makes of it. The C test
(tests/unit/test_gguf.c) reads the file with gguf_open/gguf_read_f32 and compares.

Usage: python3 tools/gguf/make_quant_fixture.py   (needs gguf, numpy)
"""
import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

OUT = "tests/fixtures/gguf"
# type -> byte offsets of its f16 fields inside one block
F16_FIELDS = {Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0],
              Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}
ROWS, COLS = 3, 512


def main():
    rng = np.random.default_rng(20261204)
    w = gguf.GGUFWriter(f"{OUT}/quants.gguf", "llama")
    for t, offs in F16_FIELDS.items():
        block, nbytes = gguf.GGML_QUANT_SIZES[t]
        nblocks = ROWS * COLS // block
        raw = rng.integers(0, 256, size=(nblocks, nbytes), dtype=np.uint8)
        for o in offs:
            raw[:, o:o + 2] = (rng.standard_normal(nblocks) * 0.05).astype("<f2").view(np.uint8).reshape(nblocks, 2)
        raw = raw.reshape(ROWS, COLS // block * nbytes)
        w.add_tensor(f"q.{t.name}", raw, raw_dtype=t)
        deq = gguf.dequantize(raw, t).astype("<f4").reshape(ROWS, COLS)
        assert np.isfinite(deq).all()
        deq.tofile(f"{OUT}/quants_{t.name}.f32")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
