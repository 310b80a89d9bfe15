#!/bin/sh
# fake-slicer.sh - stands for prusa-slicer in test_slicer: the model file's first line says what to do.
out=
model=
while [ $# -gt 0 ]; do
	case "$1" in
	--output | -o) out=$2; shift 2 ;;
	--export-gcode) shift ;;
	*) model=$1; shift ;;
	esac
done
mode=$(head -n 1 "$model")
case "$mode" in
ok)
	echo "[2026-12-03 17:25:41.430416] [0x00007f6009e89d80] [trace]   Initializing StaticPrintConfigs"
	echo "10 => Processing triangulated mesh"
	echo "20 => Generating perimeters"
	echo "70 => Infilling layers"
	echo "30 => Preparing infill"
	printf 'G28\nG1 X1 Y1\n' >"$out"
	echo "Slicing result exported to $out" ;;
slow)
	echo "10 => Processing triangulated mesh"
	exec sleep 60 ;;
orphan) # leaves a grandchild holding the output pipe, then ends well
	sleep 60 &
	printf 'G28\n' >"$out"
	echo "90 => Exporting G-code" ;;
crash)
	echo "Error: the mesh is broken" >&2
	kill -SEGV $$ ;;
refuse)
	echo "10 => Processing triangulated mesh"
	echo "[2026-12-03 17:25:41.430416] [0x00007f6009e89d80] [error]   Objects could not fit on the bed" >&2
	exit 1 ;;
alloc)
	exec /usr/bin/python3 -c 'bytearray(1 << 34)' ;;
cpu)
	while :; do :; done ;;
nothing)
	echo "50 => Generating perimeters" ;;
chatty)
	i=0
	while [ $i -lt 2000 ]; do echo "line $i of a talkative slicer, padded to be long enough"; i=$((i + 1)); done
	echo "the last line" ;;
env)
	{
		echo "cwd $(pwd)"
		echo "home $HOME"
		echo "stdin $(readlink /proc/self/fd/0)"
		for f in /proc/$$/fd/*; do echo "fd $f $(readlink "$f")"; done
		grep -E '^Sig(Blk|Ign):' /proc/$$/status
		echo "net $(readlink /proc/$$/ns/net)"
		echo "pgid $(cut -d " " -f 5 /proc/$$/stat) pid $$"
		echo "as $(ulimit -v) cpu $(ulimit -t)"
	} >"$out" ;;
*)
	echo "unknown mode '$mode'" >&2
	exit 2 ;;
esac
