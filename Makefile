# Shortcuts for the two scripts a newcomer needs (they work without make, too):
#   make demo   = scripts/demo.sh   installs what is missing, builds vmm and the guests, boots hello
#   make test   = scripts/test.sh   installs what is missing (QEMU too), runs the whole test suite
.PHONY: demo test build guests clean

demo:
	scripts/demo.sh

test:
	scripts/test.sh

# make bench = benchmarks/run: the speed figures of docs/benchmarks.md (about 15 minutes)
.PHONY: bench
bench:
	benchmarks/run

build:
	swift build

guests:
	$(MAKE) -C Tests/Guests

clean:
	rm -rf .build .build-e2e
	$(MAKE) -C Tests/Guests clean
