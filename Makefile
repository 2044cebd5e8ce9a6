# fvl — build, test and cross-build. `make help` lists the targets; docs/architecture.md explains.
#
#   make                      host build (x86-64: NEON kernels through SIMDe; aarch64: native)
#   make ARCH=aarch64         cross-build for aarch64 (baseline armv8-a, per-file +dotprod/+i8mm/+fp16)
#   make BOARD=rpi4|rpi5|orin|generic-aarch64   cross-build tuned for a board (boards/<board>/board.mk)
#   make SAN=asan             host build with AddressSanitizer + UBSan

HOST_ARCH := $(shell uname -m)
FVL_VERSION := $(shell sed -n 's/^\#define FVL_VERSION_STRING "\(.*\)"/\1/p' runtime/fvl.h)
# libfvl.so's SONAME: major.minor while the major is 0 (every 0.x may change the ABI)
FVL_SOVERSION := $(shell echo $(FVL_VERSION) | cut -d. -f1-2)
ARCH ?= $(HOST_ARCH)
BOARD ?=
SAN ?=

ifneq ($(BOARD),)
  ifeq ($(wildcard boards/$(BOARD)/board.mk),)
    $(error unknown BOARD '$(BOARD)'; boards: $(notdir $(wildcard boards/*)))
  endif
  include boards/$(BOARD)/board.mk
  ifneq ($(ARCH),aarch64)
    ifeq ($(origin ARCH),command line)
      $(error BOARD=$(BOARD) is an aarch64 board; drop ARCH=$(ARCH))
    endif
    ARCH := aarch64
  endif
endif

B := build/$(ARCH)$(if $(BOARD),-$(BOARD))$(if $(SAN),-$(SAN))

# The private arm64 sysroot that tools/setup-deps.sh unpacks XNNPACK and pthreadpool into.
ARM_SYSROOT ?= build/sysroot-arm64
ARM_LIBDIR := $(ARM_SYSROOT)/usr/lib/aarch64-linux-gnu
EMU ?= qemu-aarch64
QEMU_CPUS ?= cortex-a72 cortex-a76 max

ifeq ($(ARCH),aarch64)
  ifneq ($(HOST_ARCH),aarch64)
    CROSS ?= aarch64-linux-gnu-
    XLIBS := -L$(ARM_LIBDIR) -Wl,-rpath-link,$(ARM_LIBDIR)
    RUN := $(EMU) -cpu $(or $(QEMU_CPU),max) -E LD_LIBRARY_PATH=$(abspath $(ARM_LIBDIR))
  endif
  TUNE := $(if $(BOARD_CPU),-mtune=$(BOARD_CPU))
  CPU_FLAGS := $(if $(BOARD_CPU),-mcpu=$(BOARD_CPU),-march=armv8-a)
  DOT_FLAGS := -march=armv8.2-a+dotprod $(TUNE)
  I8MM_FLAGS := -march=armv8.2-a+dotprod+i8mm $(TUNE)
  FP16_FLAGS := -march=armv8.2-a+fp16 $(TUNE)
  ARCH_DEFS := -DFVL_HAVE_I8MM -DFVL_HAVE_FP16
  KERNEL_EXCLUDE := %-avx2.c %-avxvnni.c %-avx512vnni.c
  # GCC's pre-allocation scheduler interleaves the unrolled GEMM tiles until their accumulators
  # spill (measured: i8mm 7.6 vs 10.6 MAC/instr); the out-of-order cores reorder anyway.
  NO_SCHED := -fno-schedule-insns
else ifeq ($(ARCH),x86_64)
  # SIMDe translates NEON to AVX2; without -mfma vfmaq_f32 would round twice.
  KERNEL_FLAGS := -mavx2 -mfma -mf16c
  ARCH_DEFS := -DFVL_HAVE_AVX2
  # SIMDe has no i8mm and no fp16 arithmetic: those kernels build only for aarch64.
  KERNEL_EXCLUDE := %-neoni8mm.c %-neonfp16.c
else
  $(error ARCH=$(ARCH) is not supported: use x86_64 (host tests) or aarch64)
endif

ifeq ($(origin CC),default)
  CC := $(CROSS)gcc
endif
AR := $(CROSS)ar
HOST_CC ?= gcc
CLANG ?= clang
CLANG_FOR_FUZZ := $(CLANG)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
        -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
CFLAGS ?= -O2 -g
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
# SAN=fuzz: libfvl for the libFuzzer targets (clang; the targets link -fsanitize=fuzzer)
FUZZ_LIB_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
SAN_FLAGS := $(if $(filter asan,$(SAN)),$(ASAN_FLAGS))$(if $(filter tsan,$(SAN)),$(TSAN_FLAGS))$(if \
             $(filter fuzz,$(SAN)),$(FUZZ_LIB_FLAGS))
ifeq ($(SAN),fuzz)
  CC := $(CLANG_FOR_FUZZ)
  WARN += -Wno-unknown-warning-option
endif
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(CFLAGS) $(SAN_FLAGS) $(ARCH_DEFS) \
              $(BOARD_DEFS) -MMD -MP

# The layers, enforced by include paths (docs/architecture.md): a folder sees its own headers and
# those of the layers below it, so an include across the boundary fails to build.
#   kernels_neon  <-  runtime  <-  quant (the converter);  fvl.h alone  <-  tools;
#   tests see everything.
INC_KERNELS := -Ikernels_neon
INC_RUNTIME := -Iruntime $(INC_KERNELS)
INC_QUANT := -Iquant $(INC_RUNTIME)
INC_TOOLS := -Itools -I$(B)/include
INC_TESTS := -Itests $(INC_QUANT)
INC = $(INC_TESTS)
# libfvl's own libraries; cJSON only for the converter (config.json) and the tests that drive it.
LDLIBS := $(XLIBS) -lv4l2 -lpcre2-8 -lturbojpeg -lspng -lXNNPACK -lpthreadpool -lm -pthread
LDLIBS_QUANT := -lcjson $(LDLIBS)
ALL_LDFLAGS := $(LDFLAGS) $(SAN_FLAGS)

RUNTIME_SRC := $(wildcard runtime/*.c)
KERNEL_SRC := $(filter-out $(KERNEL_EXCLUDE),$(wildcard kernels_neon/*.c kernels_neon/ref/*.c))
QUANT_SRC := $(filter-out quant/main.c,$(wildcard quant/*.c))
TEST_SRC := $(wildcard tests/*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(RUNTIME_SRC) $(KERNEL_SRC))
QUANT_OBJ := $(call obj,$(QUANT_SRC))
TEST_OBJ := $(call obj,$(TEST_SRC))

# Per-file instruction-set flags: the file name says the ISA it needs.
ISA_FLAGS = $(CPU_FLAGS)
# Kernels: -O3 (the tile loops over a constant number of rows must unroll to stay in registers).
KERNEL_FLAGS += -O3
# libfvl's objects serve the archive and libfvl.so: position-independent, and only what fvl.h
# declares (FVL_API) visible outside the library.
$(B)/obj/kernels_neon/%.o $(B)/obj/runtime/%.o: ALL_CFLAGS += -fPIC -fvisibility=hidden -DFVL_BUILD
$(B)/obj/kernels_neon/%.o: INC = $(INC_KERNELS)
$(B)/obj/runtime/%.o: INC = $(INC_RUNTIME)
$(B)/obj/quant/%.o: INC = $(INC_QUANT)
$(B)/obj/tools/%.o: INC = $(INC_TOOLS)
$(B)/obj/kernels_neon/%.o: ISA_FLAGS = $(CPU_FLAGS) $(KERNEL_FLAGS) $(NO_SCHED)
$(B)/obj/kernels_neon/%-neondot.o: ISA_FLAGS = $(or $(DOT_FLAGS),$(CPU_FLAGS)) $(KERNEL_FLAGS) $(NO_SCHED)
$(B)/obj/kernels_neon/%-neoni8mm.o: ISA_FLAGS = $(I8MM_FLAGS) -O3 $(NO_SCHED)
$(B)/obj/kernels_neon/%-neonfp16.o: ISA_FLAGS = $(FP16_FLAGS) -O3 $(NO_SCHED)
$(B)/obj/kernels_neon/%-avxvnni.o: ISA_FLAGS = $(KERNEL_FLAGS) -mavxvnni
$(B)/obj/kernels_neon/%-avx512vnni.o: ISA_FLAGS = $(KERNEL_FLAGS) -mavx512f -mavx512bw -mavx512vl \
                                                  -mavx512vnni
$(B)/obj/tests/main.o: ALL_CFLAGS += -DFVL_TEST_DATA_DIR=\"$(abspath tests/data)\"

.PHONY: all lib tests test test-unit test-cli test-serve test-lib test-arm test-asan test-tsan test-deb fuzz check deps demo serve-demo clean help
all: $(B)/libfvl.a $(B)/libfvl.so $(B)/fvl $(B)/fvl-quant $(B)/tests/run

lib: $(B)/libfvl.a
tests: $(B)/tests/run $(B)/fvl $(B)/fvl-quant

# V=1 prints whole command lines.
Q := $(if $(V),,@)
$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC  $(B): $< $(strip $(ISA_FLAGS))")
	$(Q)$(CC) $(ALL_CFLAGS) $(INC) $(ISA_FLAGS) -c $< -o $@

# The object list, rewritten only when it changes: deleting or renaming a source rebuilds the archive.
$(B)/libfvl.objs: FORCE
	@mkdir -p $(@D)
	@echo '$(LIB_OBJ)' | cmp -s - $@ || echo '$(LIB_OBJ)' > $@
.PHONY: FORCE
FORCE:

$(B)/libfvl.a: $(LIB_OBJ) $(B)/libfvl.objs
	@rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

# The shared library: SONAME libfvl.so.$(FVL_SOVERSION), fvl.h's functions its only exports.
$(B)/libfvl.so.$(FVL_VERSION): $(LIB_OBJ) $(B)/libfvl.objs
	$(CC) -shared $(ALL_LDFLAGS) -Wl,-soname,libfvl.so.$(FVL_SOVERSION) -Wl,--no-undefined \
	  -Wl,-z,relro,-z,now $(LIB_OBJ) $(LDLIBS) -o $@
$(B)/libfvl.so: $(B)/libfvl.so.$(FVL_VERSION)
	ln -sf libfvl.so.$(FVL_VERSION) $(B)/libfvl.so.$(FVL_SOVERSION)
	ln -sf libfvl.so.$(FVL_VERSION) $@

FVL_TOOL_SRC := tools/fvl.c tools/bench.c tools/camera.c tools/doctor.c tools/cli.c tools/task.c \
                tools/serve.c tools/serve-request.c tools/serve-reply.c tools/serve-work.c
# fvl serve: HTTP through libmicrohttpd, requests parsed with cJSON (libfvl itself needs neither)
LDLIBS_FVL := -lmicrohttpd -lcjson $(LDLIBS)
# The programs see the public header only: a copy of it in a folder of its own.
$(B)/include/fvl.h: runtime/fvl.h
	@mkdir -p $(@D)
	cp $< $@
$(call obj,$(FVL_TOOL_SRC)): | $(B)/include/fvl.h
$(B)/fvl: $(call obj,$(FVL_TOOL_SRC)) $(B)/libfvl.a
	$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS_FVL) -o $@

$(B)/fvl-quant: $(call obj,quant/main.c) $(QUANT_OBJ) $(B)/libfvl.a
	$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS_QUANT) -o $@

# The server's request parsing is tested in the runner too (tests/test-serve.c).
TEST_TOOL_OBJ := $(call obj,tools/serve-request.c tools/cli.c)
$(B)/obj/tests/test-serve.o: INC = $(INC_TESTS) -Itools
$(B)/tests/run: $(TEST_OBJ) $(QUANT_OBJ) $(TEST_TOOL_OBJ) $(B)/libfvl.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS_QUANT) -o $@

$(B)/bench-kernels: $(call obj,tests/bench/bench-kernels.c) $(B)/libfvl.a
	$(CC) $(ALL_LDFLAGS) $^ $(LDLIBS) -o $@

# ---- benchmarks (print, never assert) -------------------------------------------------------
ICOUNT_DIR ?= tools/qemu-icount
build/icount/libicount.so: $(ICOUNT_DIR)/icount.c
	@mkdir -p $(@D)
	$(HOST_CC) -O2 -shared -fPIC -Wall -I$(ICOUNT_DIR) $< -o $@

.PHONY: bench bench-kernels bench-vision bench-peers
bench: bench-kernels bench-vision
bench-vision: build/icount/libicount.so
	$(MAKE) ARCH=aarch64 build/aarch64/fvl
	$(MAKE) ARCH=$(HOST_ARCH) build/$(HOST_ARCH)/fvl build/$(HOST_ARCH)/fvl-quant
	tests/bench/bench-vision.sh
bench-kernels: build/icount/libicount.so
	$(MAKE) ARCH=aarch64 build/aarch64/bench-kernels
	$(MAKE) ARCH=$(HOST_ARCH) build/$(HOST_ARCH)/bench-kernels
	tests/bench/bench-kernels.sh
# llama.cpp (node-llama-cpp@3.21.1's bundle) next to fvl on the same weights: not part of make bench
# (it builds llama.cpp four times and runs for hours under qemu); see docs/performance.md
bench-peers: build/icount/libicount.so
	tools/setup-deps.sh --peers
	$(MAKE) ARCH=aarch64 build/aarch64/fvl
	$(MAKE) ARCH=$(HOST_ARCH) build/$(HOST_ARCH)/fvl build/$(HOST_ARCH)/fvl-quant
	tests/bench/bench-peers.sh

# ---- tests ----------------------------------------------------------------------------------
test: test-unit test-cli test-serve test-lib

test-unit: $(B)/tests/run
	$(RUN) $(B)/tests/run $(T)

test-cli: $(B)/fvl $(B)/fvl-quant $(B)/tests/run
	tests/cli.sh $(B)

# libfvl.so and the Python module as users get them: make install into a temporary prefix, SONAME,
# exports, pkg-config programs; tools/python/fvl.py end to end with Debian's python3
test-lib: $(B)/fvl $(B)/fvl-quant $(B)/libfvl.so
	tests/lib.sh $(B)
	/usr/bin/python3 tests/python/test_fvl.py $(B)

# fvl serve on loopback ports: curl and the openai npm client (tests/serve, installed by make deps)
test-serve: $(B)/fvl $(B)/fvl-quant
	tests/serve.sh $(B)

# The same tests cross-built and run under qemu-user on three CPU models: Pi 4 (no dotprod),
# Pi 5 / Orin (dotprod + fp16), and max (dotprod + fp16 + i8mm). Fails if any model fails.
test-arm:
	$(MAKE) ARCH=aarch64 tests
	@fail=0; for cpu in $(QEMU_CPUS); do \
	  echo "== qemu-aarch64 -cpu $$cpu"; \
	  $(EMU) -cpu $$cpu -E LD_LIBRARY_PATH=$(abspath $(ARM_LIBDIR)) -E FVL_TEST_QUICK=1 \
	    build/aarch64/tests/run $(T) \
	    || { echo "== FAILED on -cpu $$cpu"; fail=1; }; \
	done; exit $$fail

# The thread-safety promises of fvl.h under ThreadSanitizer (sessions, tasks, tokenizers on
# several threads, each session or task with a pool of 2, and the pool itself; XNNPACK off, so
# its uninstrumented pthreadpool never runs and every thread is fvl's), and fvl serve's sessions,
# queue and shutdown under concurrent clients.
test-tsan:
	$(MAKE) SAN=tsan tests
	FVL_NO_XNNPACK=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  build/$(HOST_ARCH)-tsan/tests/run test_threads
	tests/serve-threads.sh build/$(HOST_ARCH)-tsan

test-asan:
	$(MAKE) SAN=asan tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  build/$(HOST_ARCH)-asan/tests/run $(T)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tests/serve.sh build/$(HOST_ARCH)-asan

# ---- fuzzing (clang libFuzzer) -------------------------------------------------------------
FUZZ_SECONDS ?= 60
FUZZ_B := build/fuzz
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=all $(INC_TESTS) -pthread
FUZZ_CKPT_SECONDS ?= 20
$(FUZZ_B)/fuzz-gguf: tests/fuzz/fuzz-gguf.c runtime/gguf.c runtime/gguf-print.c runtime/status.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) $^ -o $@

$(FUZZ_B)/fuzz-ckpt: tests/fuzz/fuzz-ckpt.c quant/ckpt.c quant/safetensors.c quant/torchzip.c \
                     runtime/status.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) $^ -lcjson -o $@

$(FUZZ_B)/fuzz-image: tests/fuzz/fuzz-image.c runtime/image.c runtime/exif.c runtime/status.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) $^ -lturbojpeg -lspng -o $@

# The tokenizer, task-parse and model-load targets link all of libfvl, built with clang for them
# (SAN=fuzz).
FUZZ_LIB := build/$(HOST_ARCH)-fuzz/libfvl.a
.PHONY: fuzz-lib
fuzz-lib:
	$(MAKE) ARCH=$(HOST_ARCH) BOARD= SAN=fuzz lib

$(FUZZ_B)/fuzz-tokenizer $(FUZZ_B)/fuzz-model $(FUZZ_B)/fuzz-task-parse: $(FUZZ_B)/%: tests/fuzz/%.c fuzz-lib
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) $< $(FUZZ_LIB) $(LDLIBS) -o $@

$(FUZZ_B)/fuzz-serve-request: tests/fuzz/fuzz-serve-request.c tools/serve-request.c fuzz-lib
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) -Itools $< tools/serve-request.c $(FUZZ_LIB) -lcjson $(LDLIBS) -o $@

# Each target runs on its own corpus, seeded with small valid files the test runner writes.
fuzz: $(FUZZ_B)/fuzz-serve-request $(FUZZ_B)/fuzz-gguf $(FUZZ_B)/fuzz-ckpt $(FUZZ_B)/fuzz-image $(FUZZ_B)/fuzz-task-parse \
      $(FUZZ_B)/fuzz-tokenizer $(FUZZ_B)/fuzz-model
	$(MAKE) ARCH=$(HOST_ARCH) BOARD= SAN= tests
	rm -rf $(FUZZ_B)/seeds-gguf $(FUZZ_B)/seeds-ckpt $(FUZZ_B)/seeds-image
	mkdir -p $(FUZZ_B)/corpus-gguf $(FUZZ_B)/corpus-ckpt
	build/$(HOST_ARCH)/tests/run --write-gguf-seeds $(FUZZ_B)/seeds-gguf
	build/$(HOST_ARCH)/tests/run --write-ckpt-seeds $(FUZZ_B)/seeds-ckpt
	$(FUZZ_B)/fuzz-gguf -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_B)/ $(FUZZ_B)/corpus-gguf $(FUZZ_B)/seeds-gguf
	$(FUZZ_B)/fuzz-ckpt -max_total_time=$(FUZZ_CKPT_SECONDS) -print_final_stats=1 -rss_limit_mb=1024 \
	  -artifact_prefix=$(FUZZ_B)/ $(FUZZ_B)/corpus-ckpt $(FUZZ_B)/seeds-ckpt
	mkdir -p $(FUZZ_B)/corpus-image $(FUZZ_B)/seeds-image
	cp tests/data/images/text.jpg $(FUZZ_B)/seeds-image/
	printf 'P6\n2 2\n255\n0123456789ab' > $(FUZZ_B)/seeds-image/tiny.ppm
	$(FUZZ_B)/fuzz-image -max_total_time=$(FUZZ_CKPT_SECONDS) -print_final_stats=1 -rss_limit_mb=1024 \
	  -artifact_prefix=$(FUZZ_B)/ $(FUZZ_B)/corpus-image $(FUZZ_B)/seeds-image
	mkdir -p $(FUZZ_B)/corpus-task-parse $(FUZZ_B)/seeds-task-parse
	printf 'car<loc_1><loc_2><loc_3><loc_4>dog<loc_5><loc_6><loc_7><loc_8></s>' \
	  > $(FUZZ_B)/seeds-task-parse/od.txt
	printf '<s>HELLO<loc_1><loc_2><loc_3><loc_4><loc_5><loc_6><loc_7><loc_8>\n' \
	  > $(FUZZ_B)/seeds-task-parse/ocr.txt
	$(FUZZ_B)/fuzz-task-parse -max_total_time=$(FUZZ_CKPT_SECONDS) -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_B)/ $(FUZZ_B)/corpus-task-parse $(FUZZ_B)/seeds-task-parse
	mkdir -p $(FUZZ_B)/corpus-serve $(FUZZ_B)/seeds-serve
	cp tests/fuzz/seeds-serve/*.json $(FUZZ_B)/seeds-serve/
	$(FUZZ_B)/fuzz-serve-request -max_total_time=$(FUZZ_CKPT_SECONDS) -print_final_stats=1 \
	  -dict=tests/fuzz/serve.dict -artifact_prefix=$(FUZZ_B)/ $(FUZZ_B)/corpus-serve $(FUZZ_B)/seeds-serve
	rm -rf $(FUZZ_B)/files && mkdir -p $(FUZZ_B)/files $(FUZZ_B)/corpus-tokenizer \
	  $(FUZZ_B)/seeds-tokenizer $(FUZZ_B)/corpus-model $(FUZZ_B)/seeds-model
	build/$(HOST_ARCH)/tests/run --write-fuzz-files $(FUZZ_B)/files
	printf '\000\000<|user|>\nWhat is \xff in \xe4\xbb the image?<|end|>' > $(FUZZ_B)/seeds-tokenizer/prompt.txt
	printf '\003\005\xe2\x96\x81Hello <s> world\t\t\xc3' > $(FUZZ_B)/seeds-tokenizer/spm.txt
	printf '\000\000\000\000\001\000\000\000' > $(FUZZ_B)/seeds-model/one-edit.bin
	FVL_FUZZ_FILES=$(FUZZ_B)/files $(FUZZ_B)/fuzz-tokenizer -max_total_time=$(FUZZ_CKPT_SECONDS) \
	  -print_final_stats=1 -rss_limit_mb=2048 -artifact_prefix=$(FUZZ_B)/ \
	  $(FUZZ_B)/corpus-tokenizer $(FUZZ_B)/seeds-tokenizer
	FVL_FUZZ_FILES=$(FUZZ_B)/files $(FUZZ_B)/fuzz-model -max_total_time=$(FUZZ_CKPT_SECONDS) \
	  -print_final_stats=1 -rss_limit_mb=2048 -max_len=128 -artifact_prefix=$(FUZZ_B)/ \
	  $(FUZZ_B)/corpus-model $(FUZZ_B)/seeds-model

# ---- the README's commands ---------------------------------------------------------------------
deps:
	tools/setup-deps.sh

# Everything: set-up, build, host tests, sanitizer tests, qemu tests, 60 s of fuzzing.
check:
	tools/check.sh

demo:
	tools/setup-deps.sh --no-cross
	$(MAKE) all
	tools/demo.sh build/$(HOST_ARCH)

# fvl serve on the demo model, in the foreground (PORT=8080)
serve-demo:
	tools/setup-deps.sh --no-cross
	$(MAKE) all
	tools/serve-demo.sh build/$(HOST_ARCH)

# ---- install and packages --------------------------------------------------------------------
PREFIX ?= /usr/local
DESTDIR ?=
DEB_ARCH := $(if $(filter aarch64,$(ARCH)),arm64,amd64)
# the Python module (tools/python/fvl.py) goes where Debian's python3 looks
PY_DIR ?= $(PREFIX)/lib/python3/dist-packages
DEB_LIBS := libxnnpack0, libpthreadpool0, libturbojpeg0, libspng0, libv4l-0, libcjson1, libpcre2-8-0, \
            libmicrohttpd12

.PHONY: install deb
install: $(B)/libfvl.a $(B)/libfvl.so $(B)/fvl $(B)/fvl-quant
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/fvl $(DESTDIR)$(PY_DIR)
	install -m 755 $(B)/fvl $(B)/fvl-quant $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(B)/libfvl.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(B)/libfvl.so.$(FVL_VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libfvl.so.$(FVL_VERSION) $(DESTDIR)$(PREFIX)/lib/libfvl.so.$(FVL_SOVERSION)
	ln -sf libfvl.so.$(FVL_VERSION) $(DESTDIR)$(PREFIX)/lib/libfvl.so
	sed 's|^_LIB_DIRS = .*|_LIB_DIRS = ["$(PREFIX)/lib"]|' tools/python/fvl.py > $(DESTDIR)$(PY_DIR)/fvl.py
	install -m 644 runtime/fvl.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(FVL_VERSION)|' tools/fvl.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/fvl.pc
	install -m 644 boards/fvl-camera.service boards/fvl-camera.env boards/fvl-serve.service \
	  boards/fvl-serve.env $(DESTDIR)$(PREFIX)/share/fvl/

# A Debian package of this build (make deb, or make deb ARCH=aarch64 / BOARD=rpi5 for arm64).
deb: $(B)/libfvl.a $(B)/fvl $(B)/fvl-quant
	rm -rf $(B)/deb && mkdir -p $(B)/deb/DEBIAN
	$(MAKE) install PREFIX=/usr DESTDIR=$(abspath $(B)/deb)
	install -d $(B)/deb/lib/systemd/system
	install -m 644 boards/fvl-camera.service boards/fvl-serve.service $(B)/deb/lib/systemd/system/
	printf 'Package: fvl\nVersion: $(FVL_VERSION)\nArchitecture: $(DEB_ARCH)\nMaintainer: fvl developers <dev@fvl.invalid>\nDepends: $(DEB_LIBS)\nSection: science\nPriority: optional\nDescription: Florence-VL and Florence-2 inference for ARM boards\n fvl runs Florence-VL (vision-language) and Florence-2 from images and cameras.\n' \
	  > $(B)/deb/DEBIAN/control
	dpkg-deb --root-owner-group --build $(B)/deb build/fvl_$(FVL_VERSION)_$(DEB_ARCH).deb

# The C sources, held to .clang-format (the counting plugin under tools/qemu-icount is carried as is).
FORMAT_SRC = $(filter-out tools/qemu-icount/%,$(wildcard runtime/*.[ch] kernels_neon/*.[ch] \
             kernels_neon/ref/*.[ch] quant/*.[ch] tools/*.[ch] tests/*.[ch] tests/*/*.[ch]))
.PHONY: format-check format
format-check:
	@clang-format --dry-run -Werror $(FORMAT_SRC)
	@echo "format-check: $(words $(FORMAT_SRC)) files match .clang-format"
format:
	clang-format -i $(FORMAT_SRC)

test-deb:
	$(MAKE) ARCH=aarch64 deb
	tools/test-deb.sh

clean:
	rm -rf build/x86_64* build/aarch64* build/fuzz build/demo

help:
	@sed -n '2,8p' Makefile | sed 's/^# \{0,1\}//'
	@echo "targets:"
	@echo "  all (default)  libfvl.a, fvl, fvl-quant        lib        libfvl.a only"
	@echo "  tests          the test runner                 test       unit + CLI tests (host)"
	@echo "  test-unit      unit tests only                 test-cli   CLI tests only"
	@echo "  test-serve     fvl serve over loopback: curl and the openai npm client"
	@echo "  test-lib       libfvl.so (SONAME, exports, pkg-config) and the Python module"
	@echo "  test-asan      tests under ASan + UBSan        test-tsan  threaded tests under TSan"
	@echo "  test-arm       kernels and stages under qemu-aarch64 (cortex-a72, cortex-a76, max)"
	@echo "  test-deb       build the aarch64 .deb and check its contents"
	@echo "  fuzz           run every fuzz target briefly   fuzz-lib   libfvl built for the fuzzers"
	@echo "  format-check   clang-format --dry-run over the sources (fails on a difference); format applies it"
	@echo "  check          everything CI runs (format-check, tests, sanitizers, arm, fuzz, deb)"
	@echo "  deps           install the Debian packages     demo       write and run the demo model"
	@echo "  serve-demo     fvl serve on the demo model (127.0.0.1:8080, PORT=...)"
	@echo "  bench          benchmarks (print numbers)      bench-kernels  kernel micro-benchmarks"
	@echo "  bench-vision   the vision side: threads, PyTorch side by side, qemu instructions"
	@echo "  bench-peers    the LLM next to llama.cpp (node-llama-cpp@3.21.1's source): host and qemu"
	@echo "  install        install under PREFIX            deb        the Debian package (ARCH=...)"
	@echo "  clean          remove build outputs            help       this list"

-include $(patsubst %.o,%.d,$(LIB_OBJ) $(QUANT_OBJ) $(TEST_OBJ) $(call obj,$(FVL_TOOL_SRC) quant/main.c))
