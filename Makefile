# tapegrad - every entry point: make, make test, make demo, make bench, make install,
# make uninstall, make deps; make MPI=1 (the command on MPI, in build-mpi), make test-mpi.
# Plain GNU make; ops/*.c and tests/*.c are found by wildcard (no per-op edits here).

CC      ?= cc
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
MANDIR  ?= $(PREFIX)/share/man
LDCONFIG ?= $(firstword $(wildcard /sbin/ldconfig /usr/sbin/ldconfig) ldconfig)
MPI     ?=
BUILD   ?= $(if $(filter 1,$(MPI)),build-mpi,build)
OPT     ?= -O2
WARN    := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Werror
CFLAGS  ?=
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN     := $(if $(SANITIZE),$(SANFLAGS))
ALL_CFLAGS := $(WARN) $(OPT) -g $(SAN) -fPIC -fvisibility=hidden -DTG_BUILDING \
              -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc $(CFLAGS)
LDLIBS  := -lopenblas -lm -ldl

LIB_SRC := $(wildcard src/*.c) $(wildcard ops/*.c)
CLI_SRC := $(filter-out $(if $(filter 1,$(MPI)),,src/cli/mpi.c),$(wildcard src/cli/*.c))
TEST_SRC := $(wildcard tests/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

# The version is stated once, in include/tapegrad.h (TG_VERSION_MAJOR/MINOR/PATCH). The shared
# library is libtapegrad.so.MAJOR.MINOR.PATCH with soname libtapegrad.so.MAJOR, which programs
# record and the loader looks for; libtapegrad.so is the link the linker's -ltapegrad finds.
version = $(shell awk '$$2 == "TG_VERSION_$(1)" { print $$3 }' include/tapegrad.h)
SOMAJOR := $(call version,MAJOR)
VERSION := $(SOMAJOR).$(call version,MINOR).$(call version,PATCH)
ifneq ($(words $(subst ., ,$(VERSION))),3)
$(error cannot read TG_VERSION_MAJOR/MINOR/PATCH from include/tapegrad.h (got '$(VERSION)'))
endif
SONAME := libtapegrad.so.$(SOMAJOR)
SOFILE := libtapegrad.so.$(VERSION)

LIBA := $(BUILD)/libtapegrad.a
LIBSO := $(BUILD)/libtapegrad.so
CLI := $(BUILD)/bin/tapegrad
TESTS := $(BUILD)/tests/tapegrad-tests
BENCH := $(BUILD)/bench/article_bench

EXAMPLES := $(patsubst docs/examples/%.c,$(BUILD)/examples/%,$(wildcard docs/examples/*.c))

.PHONY: all test demo bench examples install uninstall deps check-deps clean sanitize
all: $(LIBA) $(LIBSO) $(CLI)

$(BUILD)/obj/%.o: %.c $(wildcard include/*.h src/*.h src/cli/*.h tests/*.h) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/$(SOFILE): $(LIB_OBJ)
	$(CC) -shared $(SAN) -Wl,-soname,$(SONAME) -o $@ $^ $(LDLIBS)

$(BUILD)/$(SONAME): $(BUILD)/$(SOFILE)
	ln -sf $(SOFILE) $@

$(LIBSO): $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(CLI): $(CLI_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $(CLI_OBJ) $(LIBA) $(LDLIBS)

# ---- tests: every tests/*.c in one Criterion binary, so one summary line closes the run ----
$(TESTS): $(TEST_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $(TEST_OBJ) $(LIBA) -lcriterion $(LDLIBS)

test: $(TESTS) $(CLI) examples
	TAPEGRAD=$(CLI) $(TESTS) --jobs 2

# ---- examples: small programs in docs/examples, built and run ----
$(BUILD)/examples/%: docs/examples/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

examples: $(EXAMPLES)
	@for e in $(EXAMPLES); do echo "== $$e"; $$e || exit 1; done

sanitize:
	$(MAKE) BUILD=build/sanitize SANITIZE=1 test

demo: $(CLI)
	$(CLI) article

# ---- benchmarks (figures go in docs/benchmarks.md) ----
$(BENCH): tests/bench/article_bench.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $< $(LIBA) $(LDLIBS)

TBENCH := $(BUILD)/bench/matmul_bench $(BUILD)/bench/mlp_bench $(BUILD)/bench/hessian_bench \
          $(BUILD)/bench/record_bench

$(TBENCH): $(BUILD)/bench/%: tests/bench/%.c tests/bench/bench.h tests/bench/mlp_model.h $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $< $(LIBA) $(LDLIBS)

# issue 6: the peers (ADOL-C, PyTorch); tests/bench/peers.sh installs them and builds adolc_peers
PEERS := $(BUILD)/bench/peers/tg_peers

$(PEERS): tests/bench/peers/tg_peers.c tests/bench/mlp_model.h $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $< $(LIBA) $(LDLIBS)

# one BLAS thread for the tensor benchmarks, the same for tapegrad and the bare calls
bench: $(BENCH) $(TBENCH) $(PEERS)
	$(BENCH)
	OPENBLAS_NUM_THREADS=1 $(BUILD)/bench/matmul_bench
	OPENBLAS_NUM_THREADS=1 $(BUILD)/bench/mlp_bench
	$(BUILD)/bench/hessian_bench
	$(BUILD)/bench/record_bench
	tests/bench/peers.sh $(BUILD)

# ---- fuzzing: tests/fuzz/fuzz_expr.c under libFuzzer + ASan + UBSan (clang, libfuzzer-14-dev,
#      libclang-rt-14-dev); new inputs go to $(BUILD)/fuzz/corpus, the seeds stay as they are ----
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 600
FUZZ       := $(BUILD)/fuzz/fuzz_expr
FUZZ_FLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer -DTG_BUILDING -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc

.PHONY: fuzz
$(FUZZ): tests/fuzz/fuzz_expr.c $(LIB_SRC) $(wildcard include/*.h src/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(LIB_SRC) tests/fuzz/fuzz_expr.c -o $@ $(LDLIBS)

fuzz: $(FUZZ)
	@mkdir -p $(BUILD)/fuzz/corpus
	$(FUZZ) -max_total_time=$(FUZZ_TIME) -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
	  -dict=tests/fuzz/expr.dict $(BUILD)/fuzz/corpus tests/fuzz/corpus

# ---- install: headers, both libraries (the shared one with its two links), the command, its
#      man page and tapegrad.pc; make uninstall removes the same files ----
# -lm is public: programs written against a numerical library use libm themselves
# (docs/examples do). OpenBLAS is ours alone: the shared library records it, a static link
# asks for it with pkg-config --static (with -ldl, for the tape compiler's dlopen on older glibc).
PC_LIBS := Libs: -L$${libdir} -ltapegrad -lm\nLibs.private: -lopenblas -ldl
LIB_LINKS := $(DESTDIR)$(LIBDIR)/libtapegrad.so $(DESTDIR)$(LIBDIR)/$(SONAME)

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/bin \
	  $(DESTDIR)$(MANDIR)/man1
	install -m 644 include/*.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/$(SOFILE) $(DESTDIR)$(LIBDIR)/
	ln -sf $(SOFILE) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libtapegrad.so
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 docs/tapegrad.1 $(DESTDIR)$(MANDIR)/man1/
	printf 'prefix=%s\nlibdir=%s\nincludedir=$${prefix}/include\n\nName: tapegrad\nDescription: reverse-mode automatic differentiation on a tape\nVersion: %s\n$(PC_LIBS)\nCflags: -I$${includedir}\n' \
	  '$(PREFIX)' '$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))' '$(VERSION)' \
	  > $(DESTDIR)$(LIBDIR)/pkgconfig/tapegrad.pc
	@$(call ldconfig_step,install)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/include/,$(notdir $(wildcard include/*.h)))
	rm -f $(DESTDIR)$(LIBDIR)/libtapegrad.a $(DESTDIR)$(LIBDIR)/$(SOFILE) $(LIB_LINKS)
	rm -f $(DESTDIR)$(LIBDIR)/pkgconfig/tapegrad.pc $(DESTDIR)$(PREFIX)/bin/tapegrad
	rm -f $(DESTDIR)$(MANDIR)/man1/tapegrad.1
	@$(call ldconfig_step,uninstall)

# The loader finds libtapegrad.so.0 through its cache, which only ldconfig updates. Run it after
# a root (un)install in a directory the loader searches (ld.so.conf and the built-in ones, compared
# resolved: /lib may be /usr/lib); say what to do instead in the other cases. $(1): install or
# uninstall.
define ldconfig_step
if [ -n "$(DESTDIR)" ]; then \
  echo "tapegrad: staged under DESTDIR: run ldconfig once the files are in place"; \
elif ! command -v $(LDCONFIG) >/dev/null 2>&1; then \
  echo "tapegrad: no ldconfig here: the loader's cache was not updated"; \
elif ! $(LDCONFIG) -vNX 2>/dev/null | sed -n 's|^\(/[^:]*\):.*|\1|p' | xargs -r readlink -f \
     | grep -qxF "$$(readlink -f $(LIBDIR))"; then \
  $(if $(filter install,$(1)),echo "tapegrad: $(LIBDIR) is not a directory the loader searches:" \
    "run programs with LD_LIBRARY_PATH=$(LIBDIR) (or link them with -Wl$(comma)-rpath$(comma)$(LIBDIR))",true); \
elif [ "$$(id -u)" = 0 ]; then \
  echo "$(LDCONFIG)"; $(LDCONFIG); \
else \
  echo "tapegrad: not root, so ldconfig was not run: run it as root to update the loader's cache"; \
fi
endef

comma := ,

# ---- dependencies: Debian packages, installed when a header is missing ----
DEB_PKGS := uthash-dev libcriterion-dev libopenblas-dev
HEADERS  := uthash.h criterion/criterion.h cblas.h
# (a literal '#' inside $(shell) is kept with its backslash by make 4.3, hence $(hash))
hash := \#
have = $(shell printf '$(hash)include <%s>\n' $(1) | $(CC) -E -x c - >/dev/null 2>&1 && echo yes)
MISSING := $(strip $(foreach h,$(HEADERS),$(if $(call have,$(h)),,$(h))))

check-deps:
	@$(if $(MISSING),echo "tapegrad: missing headers: $(MISSING); running make deps" && $(MAKE) --no-print-directory deps,true)

deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $(DEB_PKGS); \
	else \
	  echo "tapegrad: run as root:  apt-get update && apt-get install -y $(DEB_PKGS)"; exit 1; \
	fi

clean:
	rm -rf $(BUILD)

# ---- MPI (issue 15): make MPI=1 builds the command with mpicc, and src/cli/mpi.c with it,
#      into build-mpi; the library is the same as ever (plain $(CC), no MPI in it). make
#      test-mpi builds both commands and runs tests/mpi/run.sh under mpirun ----
MPICC     ?= mpicc
MPI_BUILD ?= build-mpi
MPI_PKGS  := libopenmpi-dev openmpi-bin

.PHONY: deps-mpi test-mpi
deps-mpi:
	@command -v $(MPICC) >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(MPI_PKGS); \
	  else echo "tapegrad: no MPI; run as root: apt-get install -y $(MPI_PKGS)"; exit 1; fi; }

ifeq ($(MPI),1)
# private: the library objects, prerequisites of the command, keep $(CC)
$(CLI_OBJ): private CC := $(MPICC)
$(CLI_OBJ): private ALL_CFLAGS += -DTG_MPI
$(CLI_OBJ): | deps-mpi
$(CLI): private CC := $(MPICC)
endif

test-mpi: deps-mpi
	$(MAKE) --no-print-directory MPI= BUILD=build build/bin/tapegrad
	$(MAKE) --no-print-directory MPI=1 BUILD=$(MPI_BUILD) $(MPI_BUILD)/bin/tapegrad
	tests/mpi/run.sh $(MPI_BUILD)/bin/tapegrad build/bin/tapegrad

# the reliability targets: make valgrind, make tsan, make fuzz-tape(-run); see docs/reliability.md
include tests/ci.mk
# the parser's fuzzer needs clang and libFuzzer too (installed by fuzz-deps)
$(FUZZ): | fuzz-deps
