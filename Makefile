# meterlab: thin wrapper over CMake presets. The two commands of the README:
#   make run   - install what is missing, build, run the demo
#   make test  - install what is missing, build every preset, run every test
#
# Knobs: FUZZ_SECONDS (per fuzz target in the smoke run, default 3).

FUZZ_SECONDS ?= 3
CMAKE ?= cmake
CTEST ?= ctest

.PHONY: all run test test-long bootstrap sim sim-asan target target-m0 fuzz-smoke size check-freestanding \
        bench format clean help size-doc

all: sim

help:
	@echo "make run          build and run the demo on the simulated device"
	@echo "make test         everything CI runs: sim, sim-asan, target (QEMU), fuzz smoke, size"
	@echo "make test-long    the long runs left out of make test (ctest label long)"
	@echo "make sim          configure + build the host preset (build/sim/bin/meterlab)"
	@echo "make bench        build the optimised host preset and run the benchmarks"
	@echo "make format       clang-format every C file"
	@echo "make size-doc     rewrite docs/target.md's size table from the target builds"

bootstrap:
	@tools/bootstrap

sim: bootstrap
	$(CMAKE) --preset sim >/dev/null
	$(CMAKE) --build --preset sim

run: sim
	tools/run-demo

# Every test runs once: under ASan + UBSan (sim-asan), except the labels that preset
# leaves out (slow, bench, replay: real-time replays), which run on the plain sim
# build; build/sim also gives the QEMU tests their host programs. `long` is for
# make test-long. `ctest --preset sim` still runs everything but long.
NOT_UNDER_ASAN = slow|bench|replay

test: bootstrap
	@echo "== sim: build; the tests sim-asan leaves out ($(NOT_UNDER_ASAN)) =="
	$(CMAKE) --preset sim >/dev/null
	$(CMAKE) --build --preset sim
	$(CTEST) --preset sim -L '$(NOT_UNDER_ASAN)'
	@echo "== sim-asan: every other test under ASan + UBSan =="
	$(CMAKE) --preset sim-asan >/dev/null
	$(CMAKE) --build --preset sim-asan
	$(CTEST) --preset sim-asan
	@echo "== target: Cortex-M4 image, QEMU boot, freestanding guard =="
	$(MAKE) --no-print-directory target
	@echo "== target-m0: Cortex-M0+ build =="
	$(MAKE) --no-print-directory target-m0
	@echo "== fuzz smoke =="
	$(MAKE) --no-print-directory fuzz-smoke
	@echo "== size report =="
	$(MAKE) --no-print-directory size
	@echo "make test: all stages passed"

# test-long: what make test leaves out for its 15 min budget (ctest label long:
# real-time device replays, long QEMU runs), on builds make test made.
test-long: bootstrap
	$(CMAKE) --preset sim >/dev/null
	$(CMAKE) --build --preset sim
	$(CTEST) --test-dir build/sim -L long -j 2 --output-on-failure
	$(CMAKE) --preset target >/dev/null
	$(CMAKE) --build --preset target
	$(CTEST) --test-dir build/target -L long -j 2 --output-on-failure

# target: the Cortex-M4 images, their QEMU tests (target.qemu_boot; qemu.* run
# host programs of build/sim, skipped when that is not built), the freestanding
# guard and the budgets (tools/size-budgets.txt: flash, RAM, worst stack path).
target:
	$(CMAKE) --preset target >/dev/null
	$(CMAKE) --build --preset target
	$(CTEST) --preset target
	tools/scenario-table --summary
	tools/check-freestanding build/target
	tools/size-report --check build/target

target-m0:
	$(CMAKE) --preset target-m0 >/dev/null
	$(CMAKE) --build --preset target-m0
	tools/check-freestanding build/target-m0
	tools/size-report --check build/target-m0

fuzz-smoke:
	tools/fuzz-smoke --seconds $(FUZZ_SECONDS)

size:
	tools/size-report --check --verbose --doc docs/target.md build/target build/target-m0

# size-doc: rewrite the figures table of docs/target.md from the current target builds.
size-doc:
	$(MAKE) --no-print-directory target target-m0
	tools/size-report --write-doc docs/target.md build/target build/target-m0

bench: bootstrap
	$(CMAKE) --preset sim-release >/dev/null
	$(CMAKE) --build --preset sim-release
	tools/run-benchmarks build/sim-release

format:
	find firmware tools tests bench sim hil gui -name '*.[ch]' -print0 | xargs -0 clang-format -i

clean:
	rm -rf build
