SHELL := /bin/bash
# Chorus build. Plain make, no generator: sources are found by wildcard so that adding a file
# never needs an edit here. BUILD selects the output folder (sanitizer builds use their own).

BUILD ?= build
CXX ?= g++
OPT ?= -O2
SAN ?=
CXXFLAGS ?= $(OPT) -g -Wall -Wextra -Werror -std=c++20 -pthread -I. $(SAN) -fno-omit-frame-pointer
LDFLAGS ?= $(SAN) -pthread
LIBS := -luring -lsimdjson -lxxhash -lssl -lcrypto -lhiredis -lmimalloc
PYTHON ?= /usr/bin/python3
TEST_LIBS := -lgtest -lgtest_main
BENCH_LIBS := -lbenchmark -lbenchmark_main

# What building chorusd needs (make run), and what the tests, fuzzing and benches add (make deps).
BUILD_PACKAGES := g++ make liburing-dev libsimdjson-dev libxxhash-dev libmimalloc-dev libssl-dev \
  libhiredis-dev python3
DEB_PACKAGES := $(BUILD_PACKAGES) libgtest-dev libbenchmark-dev clang libclang-rt-14-dev \
  python3-pytest clang-format chromium procps strace redis-server nginx-light stress-ng

# Library code: everything under core/, net/, ws/ except fuzz/test/bench folders.
LIB_SRCS := $(shell find core net ws -name '*.cc' 2>/dev/null | sort)
LIB_OBJS := $(LIB_SRCS:%.cc=$(BUILD)/obj/%.o)
WEB_FILES := $(shell find web -type f 2>/dev/null | sort)
WEB_OBJ := $(BUILD)/obj/web_assets.o
TEST_SRCS := $(shell find tests/core tests/net tests/ws tests/bench -name '*_test.cc' 2>/dev/null | sort)
TEST_OBJS := $(TEST_SRCS:%.cc=$(BUILD)/obj/%.o)
BENCH_TOOL_SRCS := $(shell find bench/chorus_bench -name '*.cc' 2>/dev/null | sort)
BENCH_TOOL_OBJS := $(BENCH_TOOL_SRCS:%.cc=$(BUILD)/obj/%.o)
BENCH_LIB_OBJS := $(filter-out $(BUILD)/obj/bench/chorus_bench/main.o,$(BENCH_TOOL_OBJS))
MICRO_SRCS := $(shell find bench/micro -name '*.cc' 2>/dev/null | sort)
MICRO_OBJS := $(MICRO_SRCS:%.cc=$(BUILD)/obj/%.o)
FUZZ_SRCS := $(wildcard tests/fuzz/*_fuzz.cc)

CHORUSD := $(BUILD)/chorusd
BENCH_TOOL := $(BUILD)/chorus-bench
UNIT_TESTS := $(BUILD)/unit_tests
MICRO_BENCH := $(BUILD)/micro_bench

.PHONY: all deps build-deps run cluster-demo client-js test test-unit test-integration test-web test-stress test-sanitize sanitize-build fuzz-build \
  fuzz bench bench-ladder bench-cluster soak check-includes format clean

all: $(CHORUSD) $(BENCH_TOOL) $(UNIT_TESTS) $(MICRO_BENCH)

# Installs the Debian packages the server needs to build; a fast no-op when all are present.
build-deps:
	@dpkg -s $(BUILD_PACKAGES) >/dev/null 2>&1 || { \
	  echo "installing: $(BUILD_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BUILD_PACKAGES); }

# Installs the Debian packages the build and tests need; a fast no-op when all are present.
deps:
	@dpkg -s $(DEB_PACKAGES) >/dev/null 2>&1 || { \
	  echo "installing: $(DEB_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PACKAGES); }
	@# node and npm may come from Debian or from another node distribution already on the host.
	@command -v node >/dev/null && command -v npm >/dev/null || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
	@# (again whenever package-lock.json is newer than what npm last installed)
	@[ ! -f tests/web/package.json ] || \
	  [ tests/web/node_modules/.package-lock.json -nt tests/web/package-lock.json ] || \
	  (cd tests/web && npm install --no-audit --no-fund --silent)

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@

# The browser page is compiled into the binary so that one file serves it from anywhere.
$(BUILD)/gen/web_assets.cc: $(WEB_FILES) tools/embed_web.py
	@mkdir -p $(dir $@)
	$(PYTHON) tools/embed_web.py web $@

$(WEB_OBJ): $(BUILD)/gen/web_assets.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/libchorus.a: $(LIB_OBJS) $(WEB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CHORUSD): $(BUILD)/obj/tools/chorusd.o $(BUILD)/libchorus.a
	$(CXX) $(LDFLAGS) $^ $(LIBS) -o $@

$(BENCH_TOOL): $(BENCH_TOOL_OBJS) $(BUILD)/libchorus.a
	$(CXX) $(LDFLAGS) $^ $(LIBS) -o $@

$(UNIT_TESTS): $(TEST_OBJS) $(BENCH_LIB_OBJS) $(BUILD)/libchorus.a
	$(CXX) $(LDFLAGS) $^ $(LIBS) $(TEST_LIBS) -o $@

# The unit tests of the parts that cross cores (rings, loops, TLS loops): what TSan runs, built
# alone so that the TSan build compiles four test files, not all of them.
CROSS_CORE_TEST_SRCS := tests/core/base/spsc_ring_test.cc tests/net/loop_test.cc \
  tests/net/loop_wake_test.cc tests/net/tls/tls_loop_test.cc
$(BUILD)/cross_core_tests: $(CROSS_CORE_TEST_SRCS:%.cc=$(BUILD)/obj/%.o) $(BUILD)/libchorus.a
	$(CXX) $(LDFLAGS) $^ $(LIBS) $(TEST_LIBS) -o $@

$(MICRO_BENCH): $(MICRO_OBJS) $(BENCH_LIB_OBJS) $(BUILD)/libchorus.a
	$(CXX) $(LDFLAGS) $^ $(LIBS) $(BENCH_LIBS) -o $@

run: build-deps
	$(MAKE) --no-print-directory $(CHORUSD)
	$(CHORUSD) $(ARGS)

# Redis, three chorusd nodes and nginx on this machine, in the foreground (docs/CLUSTER.md).
cluster-demo: build-deps
	$(MAKE) --no-print-directory $(CHORUSD)
	BUILD=$(BUILD) CHORUSD=$(CHORUSD) bash tools/cluster_demo.sh

test: deps all check-includes
	$(UNIT_TESTS) --gtest_brief=1
	$(MAKE) --no-print-directory test-integration
	$(MAKE) --no-print-directory test-web

test-unit: $(UNIT_TESTS)
	$(UNIT_TESTS) --gtest_brief=1

test-integration: $(CHORUSD) $(BENCH_TOOL)
	CHORUSD=$(abspath $(CHORUSD)) CHORUS_BENCH=$(abspath $(BENCH_TOOL)) \
	  $(PYTHON) -m pytest -q -x tests/integration

# The npm package's chorus.js is built from the one client source, web/chorus.js (not committed).
CLIENT_JS := chorus.js emitter.js room_model.js wire.js
client-js: $(addprefix clients/js/,$(CLIENT_JS))
$(addprefix clients/js/,$(CLIENT_JS)) &: $(addprefix web/,$(CLIENT_JS)) clients/js/build.mjs
	node clients/js/build.mjs

test-web: $(CHORUSD) $(BENCH_TOOL) client-js
	@if [ -f tests/web/package.json ]; then \
	  cd tests/web && CHORUSD=$(abspath $(CHORUSD)) CHORUS_BENCH=$(abspath $(BENCH_TOOL)) \
	  node --test --test-concurrency=1; fi

# The integration suite STRESS_RUNS times (default 5) under CPU, memory and I/O load; every
# failure is listed with its test name (tools/test_stress.sh).
STRESS_RUNS ?= 5
# STRESS_BESIDE="make -j2 sanitize-build fuzz-build": that command is the load instead (CI);
# STRESS_SUITE="make test": that command is what each run runs (CI).
test-stress: deps $(CHORUSD) $(BENCH_TOOL)
	STRESS_RUNS=$(STRESS_RUNS) BUILD=$(BUILD) PYTHON=$(PYTHON) bash tools/test_stress.sh

# The sanitizer builds alone (test-sanitize runs them).
sanitize-build: deps
	$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  build-asan/unit_tests build-asan/chorusd build-asan/chorus-bench
	$(MAKE) --no-print-directory BUILD=build-tsan OPT=-O1 SAN="-fsanitize=thread" \
	  build-tsan/cross_core_tests build-tsan/chorusd

# ASan+UBSan over the unit and integration suites, TSan over the cross-core (ring, shard) tests.
test-sanitize: sanitize-build
	ASAN_OPTIONS=detect_leaks=1 build-asan/unit_tests --gtest_brief=1
	CHORUSD=$(abspath build-asan/chorusd) CHORUS_BENCH=$(abspath build-asan/chorus-bench) \
	  CHORUS_SANITIZED=1 $(PYTHON) -m pytest -q -x tests/integration
	TSAN_OPTIONS=halt_on_error=1 build-tsan/cross_core_tests --gtest_brief=1
	# The cross-core paths of the real server (handoffs, TLS sessions moved with them, rooms
	# queries, metrics, the cluster engine's thread and rings) under TSan.
	CHORUSD=$(abspath build-tsan/chorusd) CHORUS_SANITIZED=1 TSAN_OPTIONS=halt_on_error=1 \
	  $(PYTHON) -m pytest -q -x tests/integration/test_rooms.py tests/integration/test_http.py \
	  tests/integration/test_cluster.py tests/integration/test_tls.py

FUZZ_SECONDS ?= 20
FUZZ_CXXFLAGS := -O1 -g -std=c++20 -I. -fsanitize=fuzzer-no-link,address,undefined \
  -fno-sanitize-recover=all
FUZZ_LIB_OBJS := $(LIB_SRCS:%.cc=build-fuzz/obj/%.o) build-fuzz/obj/web_assets.o
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.cc=build-fuzz/%)
.SECONDARY: $(FUZZ_LIB_OBJS)  # keep the instrumented library between fuzz runs

build-fuzz/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	clang++ $(FUZZ_CXXFLAGS) -c $< -o $@

build-fuzz/obj/web_assets.o: $(BUILD)/gen/web_assets.cc
	@mkdir -p $(dir $@)
	clang++ $(FUZZ_CXXFLAGS) -c $< -o $@

build-fuzz/%: tests/fuzz/%.cc $(FUZZ_LIB_OBJS)
	clang++ $(FUZZ_CXXFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJS) $(LIBS) -o $@

fuzz-build: deps $(FUZZ_BINS)

# Each target runs for FUZZ_SECONDS over its committed seed corpus; a crash or leak fails.
fuzz: deps $(FUZZ_BINS)
	@set -e; for bin in $(FUZZ_BINS); do \
	  name=$$(basename $$bin); mkdir -p build-fuzz/corpus-$$name; \
	  corpus=tests/fuzz/corpus/$$name; [ -d $$corpus ] || corpus=; \
	  echo "fuzzing $$name for $(FUZZ_SECONDS)s"; \
	  $$bin -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build-fuzz/ \
	    build-fuzz/corpus-$$name $$corpus > build-fuzz/$$name.log 2>&1 || \
	    { tail -n 40 build-fuzz/$$name.log; echo "fuzz target $$name failed"; exit 1; }; \
	  grep -E "stat::number_of_executed_units|cov:" build-fuzz/$$name.log | tail -n 2; \
	done

bench: deps $(CHORUSD) $(BENCH_TOOL) $(MICRO_BENCH)
	bash bench/run_bench.sh $(BENCH_ARGS)

# The paced ladder: rooms of 50 (2 speakers, 50 frames/s, 120 B) at 10..120 rooms, one chorusd
# per step on CPU 0, the bench on CPU 1; one page, $(BUILD)/ladder.html (bench/ladder.sh).
# LADDER_ROOMS=10,20 LADDER_DURATION=10s LADDER_ARGS=(bench flags) SERVER_ARGS=(chorusd flags)
bench-ladder: $(CHORUSD) $(BENCH_TOOL)
	BUILD=$(BUILD) LADDER_ROOMS="$(LADDER_ROOMS)" LADDER_DURATION="$(LADDER_DURATION)" \
	  LADDER_ARGS="$(LADDER_ARGS)" SERVER_ARGS="$(SERVER_ARGS)" bash bench/ladder.sh

# One node against two nodes sharing one Redis, each room's members split across both.
bench-cluster: deps $(CHORUSD) $(BENCH_TOOL)
	BUILD=$(BUILD) bash bench/cluster_bench.sh $(BENCH_ARGS)

# 30 minutes of rooms + churn + resume, sampling RSS, fds and latency each minute (not in CI).
soak: deps $(CHORUSD) $(BENCH_TOOL)
	BUILD=$(BUILD) bash tools/soak.sh

# Includes must point downward: core/base <- net, ws <- core <- core/cluster <- tools.
check-includes:
	@bash tools/check_includes.sh

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
