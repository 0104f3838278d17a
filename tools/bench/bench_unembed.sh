#!/usr/bin/env bash
# bench_unembed.sh — the lens decode's product on one core (tools/bench/bench_unembed.c) for three
# shapes: SmolLM2-135M's head (T 64, d 576, V 49152), a Qwen2.5-0.5B-like head at one prompt's
# length (T 17, d 896, V 151936) and a wide-d shard (T 256, d 4096, V 16032: 1/8 of Llama-3's
# vocabulary), and one rank's decode shape of the ~0.5B Qwen2 model at 2 ranks (T 400, d 896,
# V 75968) with bf16 and fp32 weights. Results: BENCHMARKS.md, sections "Lens decode" and "Speed
# toward the sgemm bound (issue 15)".
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s build/bench/bench_unembed >/dev/null
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
export OPENBLAS_NUM_THREADS=1
build/bench/bench_unembed 64 576 49152 3
build/bench/bench_unembed 17 896 151936 3
build/bench/bench_unembed 256 4096 16032 2
# issue 15: one rank's lens-decode shape of the ~0.5B Qwen2 model at 2 ranks (bench_gemm_bound.sh)
build/bench/bench_unembed 400 896 75968 2 bf16
build/bench/bench_unembed 400 896 75968 2 f32
