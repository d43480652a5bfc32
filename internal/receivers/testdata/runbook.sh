#!/bin/sh
# Test runbook for runbook_test.go. $1 picks the behaviour; $OUT is a
# directory to write what the runbook saw.
set -u
case "$1" in
ok)
	cat > "$OUT/stdin.json"
	env > "$OUT/env.txt"
	pwd > "$OUT/pwd.txt"
	echo "handled $PLUMB_GROUP_KEY"
	;;
fail)
	cat > /dev/null
	echo "looking at $PLUMB_RECEIVER"
	echo "boom: the thing is broken" >&2
	exit 3
	;;
hang)
	# A child in the same process group that would outlive a plain kill
	# of the shell.
	sleep 60 &
	echo $! > "$OUT/child.pid"
	echo "waiting"
	wait
	;;
noisy)
	i=0
	while [ $i -lt 3000 ]; do
		echo "line $i of a runbook that talks far too much ............................"
		i=$((i+1))
	done
	echo "the very last line"
	exit 1
	;;
*)
	echo "unknown mode $1" >&2
	exit 64
	;;
esac
