#!/bin/sh
# build-firmata.sh SRC OUT.elf - build the genuine StandardFirmata for an Arduino Uno (ATmega328P,
# 16 MHz) from a firmata/arduino source tree SRC, with Debian's gcc-avr and arduino-core-avr.
# Nothing of the Firmata source is kept in this repository: SRC is a checkout of the library.
set -eu
SRC=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
AVR=/usr/share/arduino/hardware/arduino/avr
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FLAGS="-mmcu=atmega328p -DF_CPU=16000000L -DARDUINO=10807 -DARDUINO_AVR_UNO -DARDUINO_ARCH_AVR -Os
 -ffunction-sections -fdata-sections -w -I$HERE -I$AVR/cores/arduino -I$AVR/variants/standard
 -I$AVR/libraries/Wire/src -I$AVR/libraries/SoftwareSerial/src -I$SRC"
CXX="avr-g++ $FLAGS -std=gnu++11 -fno-exceptions -fno-threadsafe-statics -fpermissive"
CC="avr-gcc $FLAGS -std=gnu11"
objs=
for f in "$AVR"/cores/arduino/*.c "$AVR"/libraries/Wire/src/utility/*.c; do
	o=$WORK/$(basename "$f").o; $CC -c "$f" -o "$o"; objs="$objs $o"; done
for f in $(ls "$AVR"/cores/arduino/*.cpp | grep -v WString) "$AVR"/libraries/Wire/src/*.cpp "$AVR"/libraries/SoftwareSerial/src/*.cpp "$SRC"/*.cpp; do
	o=$WORK/$(basename "$f").o; $CXX -c "$f" -o "$o"; objs="$objs $o"; done
if [ -f "$SRC/utility/SerialFirmata.cpp" ]; then
	$CXX -c "$SRC/utility/SerialFirmata.cpp" -o "$WORK/SerialFirmata.o"; objs="$objs $WORK/SerialFirmata.o"
fi
# what the Arduino IDE does to a sketch: Arduino.h first, then prototypes of its functions
INO=$SRC/examples/StandardFirmata/StandardFirmata.ino
{
	echo '#include <Arduino.h>'
	grep -E '^#include' "$INO"
	grep -E '^(void|byte|int|unsigned int|boolean|bool) +[A-Za-z_][A-Za-z0-9_]* *\([^;]*\) *\{? *$' "$INO" |
		sed -e 's/ *{ *$//' -e 's/$/;/'
	cat "$INO"
} >"$WORK/StandardFirmata.ino.cpp"
$CXX -c "$WORK/StandardFirmata.ino.cpp" -o "$WORK/StandardFirmata.o"
avr-gcc -mmcu=atmega328p -Os -Wl,--gc-sections -o "$OUT" "$WORK/StandardFirmata.o" $objs -lm
