#!/usr/bin/env bash
# Benchmark `fcap read -r DIR` against libcap's `getcap -r DIR` in one run.
#
#   scripts/bench.sh [DIR] [RUNS]        (defaults: /usr, 15)
#
# Builds the release binary, checks both tools find exactly the same files, times
# RUNS interleaved runs of each (warm cache; wall clock, best and median), and counts
# syscalls with `strace -c -f`. strace 6.1 leaves syscalls it has no name for out of
# its -c table (getxattrat(2), number 464, is one of them), so those are counted from
# a full `strace -f` log and added: the totals below include every syscall made.
set -euo pipefail

dir=${1:-/usr}
runs=${2:-15}
cd "$(dirname "$0")/.."
cargo build --release --quiet
fcap=$PWD/target/release/fcap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now() { date +%s%N; }
# Warm the dentry and inode caches for both tools.
getcap -r "$dir" >/dev/null 2>&1 || true
"$fcap" read -r "$dir" >/dev/null 2>&1 || true

# 1. Same findings (getcap prints in readdir order; fcap sorts).
getcap -r "$dir" 2>/dev/null | LC_ALL=C sort >"$tmp/getcap.out" || true
"$fcap" read -r "$dir" 2>/dev/null | LC_ALL=C sort >"$tmp/fcap.out" || true
if cmp -s "$tmp/getcap.out" "$tmp/fcap.out"; then
    echo "findings: identical ($(wc -l <"$tmp/fcap.out") files with capabilities)"
else
    echo "findings: DIFFERENT" >&2
    diff "$tmp/getcap.out" "$tmp/fcap.out" >&2 || true
    exit 1
fi

# 2. Time, interleaved so both see the same machine load.
for _ in $(seq "$runs"); do
    s=$(now); getcap -r "$dir" >/dev/null 2>&1 || true; e=$(now)
    echo $(((e - s) / 1000)) >>"$tmp/t.getcap"
    s=$(now); "$fcap" read -r "$dir" >/dev/null 2>&1 || true; e=$(now)
    echo $(((e - s) / 1000)) >>"$tmp/t.fcap"
done
stats() { sort -n "$1" | awk '{a[NR]=$1} END {printf "%d %d", a[1], a[int((NR+1)/2)]}'; }
read -r g_best g_med <<<"$(stats "$tmp/t.getcap")"
read -r f_best f_med <<<"$(stats "$tmp/t.fcap")"
printf 'time (ms, %d runs)   best   median\n' "$runs"
printf '  getcap -r %-8s %6.1f %8.1f\n' "$dir" "$(bc -l <<<"$g_best/1000")" "$(bc -l <<<"$g_med/1000")"
printf '  fcap read -r      %6.1f %8.1f\n' "$(bc -l <<<"$f_best/1000")" "$(bc -l <<<"$f_med/1000")"
printf '  ratio (getcap/fcap): best %.2fx, median %.2fx\n' \
    "$(bc -l <<<"$g_best/$f_best")" "$(bc -l <<<"$g_med/$f_med")"

# 3. Syscalls.
files=$(find "$dir" -xdev -type f 2>/dev/null | wc -l)
dirs=$(find "$dir" -xdev -type d 2>/dev/null | wc -l)
count() { # name, command...
    local name=$1
    shift
    strace -c -f -o "$tmp/$name.c" "$@" >/dev/null 2>&1 || true
    strace -f -qq -o "$tmp/$name.log" "$@" >/dev/null 2>&1 || true
    local listed unnamed
    # "% time  seconds  usecs/call  calls  errors  syscall": calls is field 4.
    listed=$(awk '$NF == "total" {print $4}' "$tmp/$name.c")
    unnamed=$(grep -v 'resumed>' "$tmp/$name.log" | grep -c 'syscall_0x' || true)
    echo "$listed $unnamed"
}
echo "syscalls (strace -c -f; $files regular files, $dirs directories)"
for tool in getcap fcap; do
    if [ $tool = getcap ]; then
        read -r listed unnamed <<<"$(count getcap getcap -r "$dir")"
    else
        read -r listed unnamed <<<"$(count fcap "$fcap" read -r "$dir")"
    fi
    total=$((listed + unnamed))
    printf '  %-7s total %7d (%d in the -c table + %d getxattrat)  %.2f per regular file\n' \
        $tool $total "$listed" "$unnamed" "$(bc -l <<<"$total/$files")"
    awk 'NR>2 && $NF != "total" && $0 !~ /^---/ {print "           " $0}' "$tmp/$tool.c" | head -6
done
