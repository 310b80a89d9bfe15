# labbridge - build, run and test. `make run` and `make test` install what is missing first.

# Debian 12 packages: what the build needs, and what the tests need on top.
BUILD_PKGS := gcc g++ make pkg-config libzmq3-dev libjansson-dev libinih-dev libserialport-dev libmodbus-dev \
              libusb-1.0-0-dev libsqlite3-dev zlib1g-dev aseba locales libsane-dev \
              libpng-dev libjpeg62-turbo-dev libtiff-dev libhpdf-dev libv4l-dev \
              libopencv-core-dev libopencv-imgproc-dev libopencv-calib3d-dev libsodium-dev libzip-dev \
              prusa-slicer libczmq-dev libqrencode-dev libmicrohttpd-dev libavahi-client-dev
# prusa-slicer: the slicer the print service runs as a child process for model jobs
# (services/print/slicer.c, slicing.c); libsodium: base64 and key fingerprints; libzip: the 3MF
# models' check at upload (services/print/mcheck.c); libczmq: CURVE certificates (core/keys.c,
# zcert); libqrencode: labctl keys qr; libavahi-client: the LAN announcement (core/mdns.c).
TEST_PKGS  := $(BUILD_PKGS) gdb clang libclang-rt-14-dev valgrind python3-zmq python3-websocket \
              python3-matplotlib umockdev python3-pymodbus socat libsimavr-dev libelf-dev gcc-avr \
              avr-libc arduino-core-avr npm qemu-system-arm firmware-microbit-micropython sane-utils \
              poppler-utils zbar-tools chromium nodejs avahi-daemon avahi-utils dbus-daemon iproute2
BENCH_PKGS := $(BUILD_PKGS) python3-zmq printcore sane-utils chromium nodejs npm
PY         := /usr/bin/python3
LIBS       := libzmq jansson inih libserialport libusb-1.0 libmodbus sqlite3 zlib sane-backends libpng libjpeg libtiff-4 \
              libv4l2 libsodium libzip libczmq libqrencode libmicrohttpd avahi-client

CC      ?= gcc
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS  ?= -O2 -g
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# Header dependencies: each compile writes the headers it read into a .d file next to its output
# (-MMD), with an empty rule per header (-MP) so that a deleted header does not break the build;
# the .d files are included at the end. A header change rebuilds what includes it, and only that.
DEP     = -MMD -MP
PKG_CFLAGS = $(shell pkg-config --cflags $(LIBS) 2>/dev/null) -isystem /usr/include/aseba
# libharu (libhpdf-dev, scan PDFs) has no pkg-config file.
HPDF_LIBS  := -lhpdf
# Debian's Aseba (package aseba): its compiler (C++) for the Thymio driver, its VM for the Thymio
# emulator; static libraries only, linked whole programs with libstdc++.
ASEBA_LIBS := /usr/lib/libasebacompiler.a /usr/lib/libasebacommon.a /usr/lib/libasebavmbuffer.a \
              /usr/lib/libasebavm.a
# Debian's OpenCV 4.6, the modules the 3D scanners' calibration needs (drivers/ciclop/calibrate.cc):
# the -dev packages of core, imgproc and calib3d ship no pkg-config file (libopencv-dev's opencv4.pc
# would pull in every module).
# Only the module build/labbridge-calibrate.so links them (below): the bridge loads it on the first
# calibration, so a bridge that never calibrates never maps OpenCV (~7 MB resident).
OPENCV_LIBS := -lopencv_calib3d -lopencv_imgproc -lopencv_core
# libzip (the 3MF check) is not linked: services/print/ziplib.c loads it on the first 3MF, so that a
# bridge that never reads a 3MF never maps it nor the libcrypto it pulls in (~1.5 MB resident).
# Its headers are used (PKG_CFLAGS); ZIP_LIBS for the programs that call it directly (test_mcheck).
LAZY_LIBS  := libzip
ZIP_LIBS    = $(shell pkg-config --libs libzip 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(filter-out $(LAZY_LIBS),$(LIBS)) 2>/dev/null) $(HPDF_LIBS) \
             $(ASEBA_LIBS) -lstdc++ -lm -lpthread -ldl
CXX     ?= g++
CXXSTD  := -std=c++17 -isystem /usr/include/aseba -isystem /usr/include/opencv4
CXXWARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter

# bridge/: the core, the driver SDK, small utilities, the services (one folder each), the simulated
# lab's scaffolding; labctl apart (bridge/README.md). No file is listed by hand.
CORE_SRC   := $(filter-out bridge/core/main.c,$(wildcard bridge/core/*.c bridge/sdk/*.c bridge/util/*.c \
                bridge/services/*/*.c bridge/sim/*.c))
# The 3D scanners' calibration (OpenCV) is a module of its own, loaded on first use
# (drivers/ciclop/calibrate_load.c): its sources are not in the daemon.
CALIB_MOD_SRC := drivers/ciclop/calibrate.cc drivers/ciclop/recon.c bridge/util/error.c
DRIVER_SRC := $(filter-out drivers/ciclop/calibrate.cc,$(wildcard drivers/*/*.c drivers/*/*.cc))
PROTO_SRC  := $(wildcard protocols/*.c)
DAEMON_SRC := bridge/core/main.c $(CORE_SRC) $(DRIVER_SRC) $(PROTO_SRC)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,build/asan/%,$(UNIT_SRC))
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
BENCH_SRC  := $(wildcard tests/bench/bench_*.c)
BENCH_BIN  := $(patsubst tests/bench/%.c,build/%,$(BENCH_SRC))

.PHONY: all install deps test-deps run test unit integration examples-test fuzz-smoke fuzz memcheck \
        bench format clean

all: deps build/labbridge build/labctl build/watch

# Install missing Debian packages (as root), or say exactly what to run.
# The Aseba compiler (Thymio driver) builds std::locale("en_US.UTF-8"): generated when missing.
ASEBA_LOCALE = locale -a 2>/dev/null | grep -qix 'en_US.utf8' || { [ "$$(id -u)" -eq 0 ] && \
  sed -i 's/^\# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen && locale-gen >/dev/null; } || \
  echo "Thymio programs need the en_US.UTF-8 locale: as root, enable it in /etc/locale.gen and run locale-gen" >&2

deps:
	@./udev/install-deps $(BUILD_PKGS)
	@$(ASEBA_LOCALE)
test-deps:
	@./udev/install-deps $(TEST_PKGS)
	@$(ASEBA_LOCALE)

# Release builds: one object per source (build/obj/), each with its header dependencies.
REL_OBJ := $(patsubst %.cc,build/obj/%.o,$(patsubst %.c,build/obj/%.o,$(DAEMON_SRC)))

build/obj/%.o: %.c build/obj/%.d
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) $(DEP) $(PKG_CFLAGS) -c -o $@ $<

# C++ sources (drivers/thymio/compile.cc: the Aseba compiler's C interface)
build/obj/%.o: %.cc build/obj/%.d
	@mkdir -p $(dir $@)
	$(CXX) $(CXXSTD) $(CXXWARN) $(CFLAGS) $(DEP) -c -o $@ $<

build/labbridge: $(REL_OBJ) | build build/labbridge-calibrate.so
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# The calibration module: its sources compiled position-independent (build/pic/), OpenCV linked
# here only; -Bsymbolic: its own copies of recon.c and error.c serve it.
build/pic/%.o: %.c build/pic/%.d
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) -fPIC $(DEP) $(PKG_CFLAGS) -c -o $@ $<
build/pic/%.o: %.cc build/pic/%.d
	@mkdir -p $(dir $@)
	$(CXX) $(CXXSTD) $(CXXWARN) $(CFLAGS) -fPIC $(DEP) -c -o $@ $<
build/labbridge-calibrate.so: $(patsubst %.cc,build/pic/%.o,$(patsubst %.c,build/pic/%.o,$(CALIB_MOD_SRC))) | build
	$(CXX) $(CFLAGS) -shared -Wl,-Bsymbolic -o $@ $^ $(OPENCV_LIBS) -lm -lpthread

LABCTL_SRC := $(wildcard bridge/labctl/*.c) bridge/util/numfmt.c bridge/util/csv.c bridge/util/clientconf.c bridge/util/qrsvg.c

build/labctl: $(patsubst %.c,build/obj/%.o,$(LABCTL_SRC)) | build
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

build/watch: build/obj/examples/c/watch.o | build
	$(CC) $(CFLAGS) -o $@ $< $(PKG_LIBS)

# Sanitized builds for the tests: every source compiled once, the daemon and each unit test
# linked from the same objects (object files, not an archive: the drivers' registration sections
# must all be linked in).
ASAN_OBJ := $(patsubst %.cc,build/asan/obj/%.o,$(patsubst %.c,build/asan/obj/%.o,$(CORE_SRC) $(DRIVER_SRC) \
              $(PROTO_SRC)))

build/asan/obj/%.o: %.cc build/asan/obj/%.d
	@mkdir -p $(dir $@)
	$(CXX) $(CXXSTD) $(CXXWARN) -O1 -g $(SAN) $(DEP) -c -o $@ $<

build/asan/obj/%.o: %.c build/asan/obj/%.d
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) $(DEP) $(PKG_CFLAGS) -c -o $@ $<

build/asan/labbridge: build/asan/obj/bridge/core/main.o $(ASAN_OBJ) | build/asan build/asan/labbridge-calibrate.so
	$(CC) -O1 -g $(SAN) -o $@ $^ $(PKG_LIBS)

build/asan/pic/%.o: %.c build/asan/pic/%.d
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) -fPIC $(DEP) $(PKG_CFLAGS) -c -o $@ $<
build/asan/pic/%.o: %.cc build/asan/pic/%.d
	@mkdir -p $(dir $@)
	$(CXX) $(CXXSTD) $(CXXWARN) -O1 -g $(SAN) -fPIC $(DEP) -c -o $@ $<
build/asan/labbridge-calibrate.so: $(patsubst %.cc,build/asan/pic/%.o,$(patsubst %.c,build/asan/pic/%.o,$(CALIB_MOD_SRC))) | build/asan
	$(CXX) -O1 -g $(SAN) -shared -Wl,-Bsymbolic -o $@ $^ $(OPENCV_LIBS) -lm -lpthread

build/asan/labctl: $(patsubst %.c,build/asan/obj/%.o,$(LABCTL_SRC)) | build/asan
	$(CC) -O1 -g $(SAN) -o $@ $^ $(PKG_LIBS)

build/asan/watch: build/asan/obj/examples/c/watch.o | build/asan
	$(CC) -O1 -g $(SAN) -o $@ $< $(PKG_LIBS)

# Standalone device emulators (pseudo-terminals) for the integration tests and the benchmarks,
# linked from the same objects as the daemon.
EMU_SRC := tests/emulators/marlin_emu.c drivers/marlin/emulator.c bridge/sim/ptyboard.c bridge/sim/simmath.c \
           bridge/sdk/serial.c bridge/util/error.c bridge/util/log.c bridge/util/thread.c
build/marlin-emu: $(patsubst %.c,build/obj/%.o,$(EMU_SRC)) | build
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

build/asan/marlin-emu: $(patsubst %.c,build/asan/obj/%.o,$(EMU_SRC)) | build/asan
	$(CC) -O1 -g $(SAN) -o $@ $^ $(PKG_LIBS)

FEMU_SRC := tests/emulators/firmata_emu.c drivers/firmata/emulator.c protocols/firmata.c \
            bridge/sim/ptyboard.c bridge/sim/simmath.c bridge/sdk/serial.c bridge/util/error.c bridge/util/log.c \
            bridge/util/thread.c
build/asan/firmata-emu: $(patsubst %.c,build/asan/obj/%.o,$(FEMU_SRC)) | build/asan
	$(CC) -O1 -g $(SAN) -o $@ $^ $(PKG_LIBS)

# The Ciclop/Horus 3D-scanner board (turntable, lasers) on a pty, standalone (faults on stdin).
CEMU_SRC := tests/emulators/ciclop_emu.c drivers/ciclop/emulator.c drivers/ciclop/board.c \
            protocols/ciclop.c bridge/sim/ptyboard.c bridge/sdk/serial.c bridge/util/error.c \
            bridge/util/log.c bridge/util/thread.c
build/asan/ciclop-emu: $(patsubst %.c,build/asan/obj/%.o,$(CEMU_SRC)) | build/asan
	$(CC) -O1 -g $(SAN) -o $@ $^ $(PKG_LIBS)

# The Thymio II emulator (Debian's Aseba VM) on a pty or TCP, standalone.
TEMU_SRC := tests/emulators/thymio_emu.c drivers/thymio/emulator.c protocols/aseba.c \
            bridge/sim/ptyboard.c bridge/sdk/serial.c bridge/util/error.c bridge/util/log.c \
            bridge/util/thread.c
build/thymio-emu: $(patsubst %.c,build/obj/%.o,$(TEMU_SRC)) | build
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

build/asan/thymio-emu: $(patsubst %.c,build/asan/obj/%.o,$(TEMU_SRC)) | build/asan
	$(CC) -O1 -g $(SAN) -o $@ $^ $(PKG_LIBS)

# An Arduino Uno simulated by simavr, its UART on a pty: runs the genuine StandardFirmata.
build/avr-uno: tests/emulators/avr/avr_uno.c | build
	$(CC) -std=gnu11 $(WARN) -O2 -g $$(pkg-config --cflags simavr) -o $@ $< $$(pkg-config --libs simavr)

# The genuine StandardFirmata for the Uno, as built and published by others (Debian ships no
# Firmata, and this repository keeps no third-party code): the prebuilt image in the npm package
# avrgirl-arduino, fetched as its tarball only (`npm pack`: no dependencies, no scripts run), its
# image checked against the checksum below and extracted with tar. It is StandardFirmata 2.4.3/2.4.4
# (reports firmware StandardFirmata.ino 2.4, protocol 2.4); tests/integration/test_firmata_avr.py.
FIRMATA_NPM    := avrgirl-arduino
FIRMATA_NPMV   := 5.0.1
FIRMATA_HEX    := package/junk/hex/uno/StandardFirmata.cpp.hex
FIRMATA_SHA256 := 6d57ea7cf30e26c9c2f3a01ee37907d2c951f8bc9c27f84dddad12fa9c8b8f36
build/firmware/$(FIRMATA_NPM)-$(FIRMATA_NPMV).tgz:
	@command -v npm >/dev/null || { echo "$@: npm is not installed (Debian: apt-get install npm," \
	  "or make test-deps)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	cd $(dir $@) && rm -f $(notdir $@) && \
	  npm pack --ignore-scripts --silent $(FIRMATA_NPM)@$(FIRMATA_NPMV) >/dev/null
	@test -s $@ || { echo "$@: npm pack did not write it" >&2; exit 1; }

build/firmware/StandardFirmata-uno.hex: build/firmware/$(FIRMATA_NPM)-$(FIRMATA_NPMV).tgz
	@# a bad tarball is removed: the next make fetches it again
	tar -xzf $< -O $(FIRMATA_HEX) > $@.tmp || { rm -f $@.tmp $<; exit 1; }
	@echo "$(FIRMATA_SHA256)  $@.tmp" | sha256sum -c --quiet - || { rm -f $@.tmp $<; \
	  echo "$@: $(FIRMATA_HEX) in $< is not the image expected (sha256 $(FIRMATA_SHA256))" >&2; \
	  exit 1; }
	mv $@.tmp $@

# test_mcheck writes zip files itself
build/asan/test_mcheck: PKG_LIBS += $(ZIP_LIBS)
build/asan/test_%: tests/unit/test_%.c build/asan/test_%.d $(ASAN_OBJ) | build/asan build/asan/labbridge-calibrate.so
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) $(DEP) -MF $@.d -MT $@ $(PKG_CFLAGS) -o $@ $< $(ASAN_OBJ) $(PKG_LIBS)

FUZZ_OBJ := $(patsubst %.c,build/fuzz/obj/%.o,$(CORE_SRC) $(PROTO_SRC))

.SECONDARY: $(ASAN_OBJ) $(FUZZ_OBJ) # kept between runs, not removed as intermediates

build/fuzz/obj/%.o: %.c build/fuzz/obj/%.d
	@mkdir -p $(dir $@)
	clang $(CSTD) $(WARN) -O1 -g -fsanitize=fuzzer-no-link,address,undefined $(DEP) $(PKG_CFLAGS) -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/fuzz_%.d $(FUZZ_OBJ) | build/fuzz
	clang $(CSTD) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined $(DEP) -MF $@.d -MT $@ $(PKG_CFLAGS) -o $@ $< $(FUZZ_OBJ) $(PKG_LIBS)

# (benchmarks include the sources they measure: their .d files list them)
build/bench_%: tests/bench/bench_%.c build/bench_%.d | build
	$(CC) $(CSTD) $(WARN) -O2 -g $(DEP) -MF $@.d -MT $@ $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

build build/asan build/fuzz:
	mkdir -p $@

run: deps build/labbridge build/labctl
	@echo "Starting labbridge; in another terminal try:  build/labctl devices,  build/labctl watch sensor/ --count 100,  build/labctl queue"
	./build/labbridge --simulate=auto

# The browser tests' node side (tests/integration/test_browser.py runs tests/browser/run.mjs):
# playwright-core at the version pinned in package-lock.json, from npm's registry like a test
# tool; it drives Debian's /usr/bin/chromium (no browser download).
tests/browser/node_modules/.installed: tests/browser/package.json tests/browser/package-lock.json
	@command -v npm >/dev/null || { echo "$@: npm is not installed (make test-deps)" >&2; exit 1; }
	cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts
	touch $@

# The whole suite: unit tests, integration tests against the sanitized daemon, examples, fuzz smoke.
test: test-deps unit integration fuzz-smoke
	@echo "make test: all tests passed"

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

integration: build/asan/labbridge build/labbridge build/asan/labctl build/asan/watch build/asan/marlin-emu build/avr-uno \
             build/asan/firmata-emu build/asan/thymio-emu build/asan/ciclop-emu build/firmware/StandardFirmata-uno.hex \
             tests/browser/node_modules/.installed
	$(PY) tests/integration/run.py --bridge build/asan/labbridge --labctl build/asan/labctl --watch build/asan/watch \
	  --marlin-emu build/asan/marlin-emu
	MARLIN_EMU=build/asan/marlin-emu $(PY) tests/emulators/test_marlin_emu.py

# Each harness replays its seed corpus and runs 20000 new inputs in a scratch corpus; a crash
# fails the target (the fuzzer's own exit status) and leaves its reproducer in build/fuzz/.
fuzz-smoke: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); c=$${n#fuzz_}; \
	  rm -rf build/fuzz/smoke-$$c; mkdir -p build/fuzz/smoke-$$c; \
	  echo "== $$n (seed corpus + 20000 runs)"; \
	  if ! $$f -runs=20000 -max_len=4096 -seed=1 -artifact_prefix=build/fuzz/$$c- \
	       build/fuzz/smoke-$$c tests/fuzz/corpus/$$c > build/fuzz/$$c.log 2>&1; then \
	    tail -30 build/fuzz/$$c.log; echo "$$n FAILED (log: build/fuzz/$$c.log)"; exit 1; fi; \
	  tail -1 build/fuzz/$$c.log; done

# Longer fuzzing: make fuzz FUZZ_SECONDS=600
FUZZ_SECONDS ?= 60
fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); c=$${n#fuzz_}; mkdir -p build/corpus/$$c; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz/$$c- build/corpus/$$c \
	    tests/fuzz/corpus/$$c; done

# valgrind over the unit tests (built without sanitizers) and a short daemon run.
memcheck: test-deps build/labbridge build/labctl
	$(PY) tests/integration/memcheck.py --bridge build/labbridge --labctl build/labctl

# The robot benchmarks' classroom: N emulated robots of each family on ptys (tests/bench/robots.py).
build/robot-farm: tests/bench/robot_farm.c $(filter-out build/obj/bridge/core/main.o,$(REL_OBJ)) | build
	$(CC) $(CSTD) $(WARN) -O2 -g $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)

# Benchmarks: figures and ratios against references measured in the same run (see tests/bench/).
bench: deps $(BENCH_BIN) build/labbridge build/marlin-emu build/thymio-emu build/robot-farm
	@./udev/install-deps $(BENCH_PKGS)
	@$(MAKE) --no-print-directory tests/browser/node_modules/.installed
	@for b in $(filter-out build/bench_zmq build/bench_sane,$(BENCH_BIN)); do $$b; done
	$(PY) tests/bench/sensors.py --bridge build/labbridge
	$(PY) tests/bench/run.py --bridge build/labbridge
	$(PY) tests/bench/printers.py --bridge build/labbridge --emu build/marlin-emu
	$(PY) tests/bench/marlin_emu.py --emu build/marlin-emu
	$(PY) tests/bench/thymio_upload.py --bridge build/labbridge --emu build/thymio-emu
	$(PY) tests/bench/micropython_upload.py
	$(PY) tests/bench/robots.py --bridge build/labbridge --farm build/robot-farm
	$(PY) tests/bench/scanners.py --bridge build/labbridge
	$(PY) tests/bench/http_stream.py --bridge build/labbridge
	$(PY) tests/bench/slicing.py --bridge build/labbridge
	$(PY) tests/bench/page_load.py --bridge build/labbridge

# Install the daemon, labctl, the udev rules, the service and an example configuration.
PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/labbridge $(DESTDIR)/etc/udev/rules.d \
	  $(DESTDIR)/etc/systemd/system $(DESTDIR)$(PREFIX)/share/doc/labbridge
	install -m 755 build/labbridge build/labctl $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/lib/labbridge
	install -m 644 build/labbridge-calibrate.so $(DESTDIR)$(PREFIX)/lib/labbridge/
	install -m 644 udev/60-labbridge.rules $(DESTDIR)/etc/udev/rules.d/
	udev/brltty-ch340 $(DESTDIR)
	install -m 644 udev/labbridge.service $(DESTDIR)/etc/systemd/system/
	install -m 644 bridge/PROTOCOL.md bridge/DESIGN.md bridge/README.md $(DESTDIR)$(PREFIX)/share/doc/labbridge/
	install -d $(DESTDIR)$(PREFIX)/share/labbridge/www
	cp -r www/. $(DESTDIR)$(PREFIX)/share/labbridge/www/
	install -m 644 bridge/HTTP.md $(DESTDIR)$(PREFIX)/share/doc/labbridge/
	[ -e $(DESTDIR)/etc/labbridge/labbridge.conf ] || install -m 644 udev/labbridge.conf $(DESTDIR)/etc/labbridge/
	[ -n "$(DESTDIR)" ] || { getent group labbridge >/dev/null || groupadd --system labbridge; \
	  getent passwd labbridge >/dev/null || useradd --system -g labbridge -G dialout,plugdev \
	  -d /var/lib/labbridge -s /usr/sbin/nologin labbridge; \
	  udevadm control --reload 2>/dev/null || true; systemctl daemon-reload 2>/dev/null || true; }

format:
	clang-format -i $(wildcard bridge/*/*.[ch] bridge/services/*/*.[ch] drivers/*/*.[ch] protocols/*.[ch] tests/*/*.[ch] examples/c/*.c)

clean:
	rm -rf build

# The header dependencies written by the compiles above. An object whose .d file is missing
# (never built, or built before the .d files existed) is rebuilt: the .d files' empty rule.
ALL_OBJ := $(REL_OBJ) $(ASAN_OBJ) $(FUZZ_OBJ) $(foreach d,build/obj build/asan/obj,\
             $(patsubst %.c,$(d)/%.o,bridge/core/main.c $(LABCTL_SRC) $(EMU_SRC) $(FEMU_SRC) $(TEMU_SRC) $(CEMU_SRC) \
             examples/c/watch.c)) \
           $(foreach d,build/pic build/asan/pic,$(patsubst %.cc,$(d)/%.o,$(patsubst %.c,$(d)/%.o,$(CALIB_MOD_SRC))))
DEP_FILES := $(sort $(ALL_OBJ:.o=.d) $(addsuffix .d,$(UNIT_BIN) $(FUZZ_BIN) $(BENCH_BIN)))
$(DEP_FILES):
-include $(wildcard $(DEP_FILES))
