# tests/ci.mk - the reliability entry points, included by the Makefile (after its own rules):
#   make valgrind    the test binary and `tapegrad article` under valgrind (leaks are errors)
#   make tsan        tests/test_threads.c under ThreadSanitizer (build/tsan)
#   make fuzz-tape   the tape-API libFuzzer target (clang, ASan+UBSan) in build/fuzz
#   make fuzz-tape-run FUZZ_TIME=60   run it for FUZZ_TIME seconds over tests/fuzz/corpus_tape
# The plain and ASan runs are the Makefile's own `make test` and `make sanitize`. See LICENSE.

.PHONY: valgrind tsan fuzz-tape fuzz-tape-run valgrind-deps fuzz-deps

VALGRIND := valgrind --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect \
            --error-exitcode=1 --quiet
# Criterion re-executes the binary once per test: follow the children, one test at a time,
# but not into the system's programs (sh, dot, gnuplot: their own leaks are not ours; the
# CLI they start gets its own run below). VG_FILTER narrows the run, e.g. VG_FILTER='errors/*'.
VG_SKIP := /bin/*,/usr/bin/*,/usr/sbin/*,/usr/lib/*,/usr/libexec/*,/usr/local/bin/*
VG_FILTER ?= *
VG_THREAD_ITERS ?= 500
# test_derivations.c's random networks: a few under valgrind (every check records a tape, and
# the first ones run the CLI, traced too); the suite's 300 are for the plain run.
VG_DERIVATIONS ?= 5

valgrind-deps:
	@command -v valgrind >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind; \
	  else echo "tapegrad: valgrind missing; run as root: apt-get install -y valgrind"; exit 1; fi; }

# The plain build (no ASan: valgrind and ASan do not mix). Each process logs to its own file
# in $(VG_LOGS) (--quiet: only errors are written), because an error in a test's child
# process does not fail the test in Criterion's eyes: any non-empty log fails the target.
VG_LOGS ?= $(BUILD)/valgrind
valgrind: valgrind-deps $(TESTS) $(CLI)
	rm -rf $(VG_LOGS) && mkdir -p $(VG_LOGS)
	TAPEGRAD=$(CLI) TG_THREAD_ITERS=$(VG_THREAD_ITERS) TG_DERIVATIONS=$(VG_DERIVATIONS) \
	  $(VALGRIND) --log-file=$(VG_LOGS)/%p.log \
	  --trace-children=yes --trace-children-skip='$(VG_SKIP)' \
	  $(TESTS) --jobs 1 --filter '$(VG_FILTER)'
	$(VALGRIND) --log-file=$(VG_LOGS)/article.log $(CLI) article >/dev/null
	@bad=$$(find $(VG_LOGS) -name '*.log' -size +0c | sort); \
	if [ -n "$$bad" ]; then cat $$bad; \
	  echo "valgrind: errors in $$(echo $$bad | wc -w) process(es), logs in $(VG_LOGS)"; exit 1; \
	else echo "valgrind: $$(ls $(VG_LOGS) | wc -l) processes, no errors, no leaks"; fi

# ThreadSanitizer: the library built again with -fsanitize=thread, and tests/test_threads.c
# built alone around it (Criterion cannot start under TSan). TG_THREAD_ITERS scales the
# per-thread work (the issue's 100000, as in the suite).
TSAN_BUILD ?= build/tsan
TSAN_ITERS ?= 100000
$(TSAN_BUILD)/threads_tsan: tests/test_threads.c tests/helpers.h $(LIB_SRC) $(wildcard include/*.h src/*.h)
	$(MAKE) --no-print-directory BUILD=$(TSAN_BUILD) SANITIZE=1 \
	  SANFLAGS='-fsanitize=thread -fno-omit-frame-pointer' $(TSAN_BUILD)/libtapegrad.a
	$(CC) $(WARN) -O1 -g -fsanitize=thread -fno-omit-frame-pointer -pthread \
	  -DTG_THREADS_STANDALONE -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc \
	  -o $@ tests/test_threads.c $(TSAN_BUILD)/libtapegrad.a $(LDLIBS)

tsan: $(TSAN_BUILD)/threads_tsan
	TG_THREAD_ITERS=$(TSAN_ITERS) OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
	  $(TSAN_BUILD)/threads_tsan

# ---- libFuzzer: the tape API (tests/fuzz/fuzz_tape.c), library sources compiled in ----
FUZZ_CC    ?= clang
FUZZ_BUILD ?= build/fuzz
FUZZ_TIME  ?= 60
FUZZ_FLAGS := $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all -DTG_BUILDING -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc

fuzz-deps:
	@printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
	  | $(FUZZ_CC) -fsanitize=fuzzer -x c - -o /dev/null >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libfuzzer-14-dev libclang-rt-14-dev; \
	  else echo "tapegrad: no libFuzzer; run as root: apt-get install -y clang libfuzzer-14-dev libclang-rt-14-dev"; exit 1; fi; }

$(FUZZ_BUILD)/fuzz_tape: tests/fuzz/fuzz_tape.c $(LIB_SRC) $(wildcard include/*.h src/*.h) | fuzz-deps check-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_tape.c $(LIB_SRC) $(LDLIBS)

fuzz-tape: $(FUZZ_BUILD)/fuzz_tape

# Runs from a scratch copy of the committed corpus, so a smoke run leaves the tree unchanged
# (copy new inputs back by hand, minimised: fuzz_tape -merge=1 tests/fuzz/corpus_tape DIR).
fuzz-tape-run: $(FUZZ_BUILD)/fuzz_tape
	rm -rf $(FUZZ_BUILD)/corpus_tape && mkdir -p $(FUZZ_BUILD)/corpus_tape
	cp tests/fuzz/corpus_tape/* $(FUZZ_BUILD)/corpus_tape/
	OPENBLAS_NUM_THREADS=1 $(FUZZ_BUILD)/fuzz_tape -max_total_time=$(FUZZ_TIME) -max_len=512 \
	  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus_tape
