#!/usr/bin/env python3
"""roofline.py — predicted GPU time of the reference probe for the ten models, from datasheet rates.

No GPU is needed (and none was used): this is the table the first real measurement
(tools/gpu/check.sh, tools/bench/gpu/) is held against. Per model at its planned tp_size
(configs/models/*.yaml) and per GPU:

  forward of T tokens   bytes: every non-embedding weight once, bf16 (2 B; Gemma-2's fp32
                        checkpoints are rounded to bf16 on load), divided by R; FLOPs 2·T·params/R.
                        exact mode (tp_exact: true): our double-accumulating kernels, FP64 rate;
                        fast mode: cuBLAS bf16 tensor cores.
  lens decode of a pass (L+1)·T rows against the vocabulary shard: the shard read once (bf16),
                        the fp32 logits written and read once by the reductions; FLOPs
                        2·(L+1)·T·d·V/R at the FP32 (CUDA core) rate.
  load                  weights per GPU over PCIe Gen5 x16 (the storage is usually slower: the
                        time at --storage-gbs is printed beside it).
  run                   the reference probe: 28 forwards (3 calibration, 11 passes, 14 test
                        prompts) + 11 lens decodes; each term max(bytes/BW, FLOPs/rate).

Datasheet rates (NVIDIA H100 SXM5 80 GB): HBM3 3.35 TB/s, FP64 34 TFLOP/s (non-tensor), FP32
67 TFLOP/s, BF16 dense tensor 989 TFLOP/s, PCIe Gen5 x16 64 GB/s (~55 usable). Usage:
  python3 tools/bench/gpu/roofline.py [--tokens 17] [--storage-gbs 5]
Prints a Markdown table (BENCHMARKS.md, "GPU roofline (projected)").
"""
import argparse, os, re

# ARCHITECTURES.md §1: L, d, V, params, tied, dtype of the checkpoint
MODELS = {
    "Mistral-7B-v0.1": (32, 4096, 32000, 7_241_732_096, False),
    "Meta-Llama-3-8B": (32, 4096, 128256, 8_030_261_248, False),
    "Qwen3-8B": (36, 4096, 151936, 8_190_735_360, False),
    "gemma-2-9b": (42, 3584, 256000, 9_241_705_984, True),
    "Qwen3-14B": (40, 5120, 151936, 14_768_307_200, False),
    "gemma-2-27b": (46, 4608, 256000, 27_227_128_320, True),
    "Yi-34B": (60, 7168, 64000, 34_388_917_248, False),
    "Meta-Llama-3-70B": (80, 8192, 128256, 70_553_706_496, False),
    "Mistral-Small-24B-Base-2501": (40, 5120, 131072, 23_572_403_200, False),
    "Qwen2.5-72B": (80, 8192, 152064, 72_706_203_648, False),
}
HBM, FP64, FP32, BF16, PCIE = 3.35e12, 34e12, 67e12, 989e12, 55e9


def tp_size(root, name):
    path = os.path.join(root, "configs", "models", name + ".yaml")
    m = re.search(r"^tp_size:\s*(\d+)", open(path).read(), re.M)
    return int(m.group(1)) if m else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=17, help="prompt length T (the reference prompts are 16-20 tokens)")
    ap.add_argument("--storage-gbs", type=float, default=5.0, help="sequential read of the checkpoint storage, GB/s per node")
    a = ap.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
    T = a.tokens
    print(f"T = {T} tokens per forward; H100 SXM datasheet: HBM {HBM/1e12:.2f} TB/s, FP64 {FP64/1e12:.0f}, "
          f"FP32 {FP32/1e12:.0f}, BF16 {BF16/1e12:.0f} TFLOP/s, PCIe {PCIE/1e9:.0f} GB/s; storage {a.storage_gbs:g} GB/s\n")
    print("| model | R | weights/GPU GB | fwd GFLOP/GPU | fwd exact ms (bound) | fwd fast ms (bound) "
          "| lens GFLOP/GPU | lens ms (bound) | load s PCIe / storage | run s exact (excl. load) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, (L, d, V, P, tied) in MODELS.items():
        R = tp_size(root, name)
        emb = V * d
        body = P - emb * (1 if tied else 2)  # every layer's weights; the head is the lens's
        w_fwd = 2.0 * body / R
        f_fwd = 2.0 * T * body / R
        ex = (w_fwd / HBM, f_fwd / FP64)
        fa = (w_fwd / HBM, f_fwd / BF16)
        rows = (L + 1) * T
        b_lens = 2.0 * emb / R + 2 * 4.0 * rows * V / R
        f_lens = 2.0 * rows * d * V / R
        le = (b_lens / HBM, f_lens / FP32)
        w_all = 2.0 * (P if tied else P) / R
        load_p, load_s = w_all / PCIE, w_all * R / (a.storage_gbs * 1e9)  # R ranks of a node share its storage
        run = 28 * max(ex) + 11 * max(le)
        bound = lambda t: f"{max(t)*1e3:.1f} ({'mem' if t[0] >= t[1] else 'compute'})"
        print(f"| {name} | {R} | {w_all/1e9:.1f} | {f_fwd/1e9:.0f} | {bound(ex)} | {bound(fa)} | {f_lens/1e9:.0f} "
              f"| {bound(le)} | {load_p:.1f} / {load_s:.0f} | {run:.2f} |")


if __name__ == "__main__":
    main()
