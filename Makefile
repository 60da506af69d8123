# Thin wrapper over CMake presets. The two commands of the README:
#   make demo   run the main job (see README)
#   make test   build and run the whole test suite
# Both install the Debian 12 dependencies first (deploy/install-deps.sh).

JOBS ?= 2
SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

.PHONY: all deps build demo test asan fuzz bench format format-check clean

all: build

deps:
	@sh deploy/install-deps.sh

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

demo: build
	@sh deploy/demo.sh build/release

test: build
	ctest --preset release

# The unit tests, and the quick federation scenarios, under
# AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan

# A short libFuzzer run of every decoder (clang).
fuzz: deps
	bash tests/fuzz/run.sh

# Benchmarks print JSON; run them by hand on a quiet machine.
bench: build
	@for b in build/release/bench/bench_*; do echo "== $$b"; $$b; done

format:
	clang-format -i $(SOURCES)

format-check:
	@clang-format --dry-run -Werror $(SOURCES) && echo "clang-format: clean"

clean:
	rm -rf build
