#!/usr/bin/env bash
# Benchmark `fcap read -r DIR` against libcap's `getcap -r DIR`, and `fcap audit DIR`
# against what users run today for the same question (`find DIR -xdev -perm /6000 -type f`
# then `getcap -r DIR`), in one run.
#
#   scripts/bench.sh [DIR] [RUNS]        (defaults: /usr, 15)
#   FCAP_BASELINE=/path/to/an/older/fcap scripts/bench.sh
#                                        (also times that binary's read -r, interleaved)
#
# Prints the release binary's size against its budget (3 MiB: it is copied into slim
# images) first, so that growth is seen.
# Builds the release binary, checks both tools find exactly the same files, times
# RUNS interleaved runs of each (warm cache; wall clock and CPU time, best and
# median), prints the floor any scanner must pay here (benches/floor.rs) and the
# best ratio it allows, and counts syscalls with `strace -c -f`. strace 6.1 leaves syscalls it has no name for out of
# its -c table (listxattrat(2) and getxattrat(2), numbers 465 and 464, are two), so
# those are counted from a full `strace -f` log and added: the totals below include
# every syscall made.
set -euo pipefail

dir=${1:-/usr}
runs=${2:-15}
cd "$(dirname "$0")/.."
# The binary's path as cargo reports it: it depends on the target .cargo/config.toml
# (or CARGO_BUILD_TARGET) builds for.
fcap=$(cargo build --release --quiet --message-format=json |
    sed -n 's/.*"executable":"\([^"]*\/fcap\)".*/\1/p' | tail -1)
[ -x "$fcap" ] || {
    echo "${0##*/}: cargo built no fcap binary" >&2
    exit 2
}
baseline=${FCAP_BASELINE:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

budget=$((3 * 1024 * 1024))
size=$(stat -c %s "$fcap")
printf 'binary: %s is %d bytes (%.2f MiB); budget %d bytes (3 MiB): %s\n' "${fcap#"$PWD"/}" "$size" \
    "$(awk -v s="$size" 'BEGIN {print s / 1048576}')" "$budget" \
    "$([ "$size" -le "$budget" ] && echo "$((budget - size)) bytes left" || echo "OVER by $((size - budget)) bytes")"
if [ -n "$baseline" ]; then
    printf 'baseline: %s is %d bytes\n' "$baseline" "$(stat -c %s "$baseline")"
fi

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

# 2. Time, interleaved so both see the same machine load. Wall clock is what a user
# waits; CPU time (user + sys) shows the work done, whatever else the machine runs.
TIMEFORMAT='%3R %3U %3S'
for _ in $(seq "$runs"); do
    { time getcap -r "$dir" >/dev/null 2>&1; } 2>>"$tmp/t.getcap"
    { time "$fcap" read -r "$dir" >/dev/null 2>&1; } 2>>"$tmp/t.fcap"
    if [ -n "$baseline" ]; then
        { time "$baseline" read -r "$dir" >/dev/null 2>&1; } 2>>"$tmp/t.base"
    fi
done
# best and median of a column expression, in ms
stats() { awk "{print $2}" "$1" | sort -n | awk '{a[NR]=$1} END {printf "%.1f %.1f", a[1]*1000, a[int((NR+1)/2)]*1000}'; }
read -r g_best g_med <<<"$(stats "$tmp/t.getcap" '$1')"
read -r f_best f_med <<<"$(stats "$tmp/t.fcap" '$1')"
read -r g_cbest g_cmed <<<"$(stats "$tmp/t.getcap" '$2+$3')"
read -r f_cbest f_cmed <<<"$(stats "$tmp/t.fcap" '$2+$3')"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a/b}'; }
printf '%d runs each, in ms        wall best  wall median   cpu best  cpu median\n' "$runs"
printf '  getcap -r %-12s %9s %12s %10s %11s\n' "$dir" "$g_best" "$g_med" "$g_cbest" "$g_cmed"
printf '  fcap read -r           %9s %12s %10s %11s\n' "$f_best" "$f_med" "$f_cbest" "$f_cmed"
printf '  getcap/fcap            %9s %12s %10s %11s\n' "$(ratio "$g_best" "$f_best")" \
    "$(ratio "$g_med" "$f_med")" "$(ratio "$g_cbest" "$f_cbest")" "$(ratio "$g_cmed" "$f_cmed")"
if [ -n "$baseline" ]; then
    read -r b_best b_med <<<"$(stats "$tmp/t.base" '$1')"
    read -r b_cbest b_cmed <<<"$(stats "$tmp/t.base" '$2+$3')"
    printf '  baseline read -r       %9s %12s %10s %11s\n' "$b_best" "$b_med" "$b_cbest" "$b_cmed"
    printf '  baseline/fcap          %9s %12s %10s %11s\n' "$(ratio "$b_best" "$f_best")" \
        "$(ratio "$b_med" "$f_med")" "$(ratio "$b_cbest" "$f_cbest")" "$(ratio "$b_cmed" "$f_cmed")"
fi
echo "  (fcap uses $(nproc) cores; load average now: $(cut -d' ' -f1 /proc/loadavg))"

# 3. The ceiling. Every scanner reads every directory and asks about every regular
# file at least once; benches/floor.rs times exactly that on one thread. With the
# work spread perfectly over all cores, no scanner's wall time can beat that CPU time
# divided by the cores, so getcap's best wall time over it is the best possible ratio
# here. fcap on one thread shows how close it comes to the floor per core.
for _ in $(seq "$runs"); do
    { time FCAP_SCAN_THREADS=1 "$fcap" read -r "$dir" >/dev/null 2>&1; } 2>>"$tmp/t.fcap1"
done
read -r f1_cbest _ <<<"$(stats "$tmp/t.fcap1" '$2+$3')"
cargo bench --quiet --bench floor -- "$dir" "$runs" | tee "$tmp/floor"
floor=$(awk '/per file/ {for (i = 1; i < NF; i++) if ($(i + 1) == "ms") print $i}' "$tmp/floor")
printf '  fcap read -r, 1 thread: %s ms cpu best\n' "$f1_cbest"
printf '  best possible getcap/scanner ratio on %d cores: %s (getcap best wall / (floor / cores))\n' \
    "$(nproc)" "$(awk -v g="$g_best" -v f="$floor" -v n="$(nproc)" 'BEGIN {printf "%.2fx", g / (f / n)}')"

# 4. fcap audit: every privileged file (capabilities and set-ID bits) judged, against
# find + getcap, which find the same files and judge nothing. Same files first: the
# privileged files audit counts equal the paths find and getcap print together.
audit() { "$fcap" audit --no-exceptions --fail-on none "$dir"; }
peers() { find "$dir" -xdev -perm /6000 -type f; getcap -r "$dir"; }
audit >/dev/null 2>&1 || true
seen=$( (find "$dir" -xdev -perm /6000 -type f 2>/dev/null | while read -r p; do
    # (find also lists set-group-ID files without group execute, which the kernel and
    # audit ignore)
    m=$(stat -c %a "$p"); [ $((8#$m & 04000)) -ne 0 ] || [ $((8#$m & 02010)) -eq $((8#2010)) ] && echo "$p"
done; getcap -r "$dir" 2>/dev/null | cut -d' ' -f1) | LC_ALL=C sort -u | wc -l)
counted=$(audit 2>/dev/null | sed -n 's/.* in \([0-9]*\) privileged file.*/\1/p')
if [ "$seen" = "$counted" ]; then
    echo "audit: the same $counted privileged files as find -perm /6000 + getcap -r"
else
    echo "audit: DIFFERENT: find + getcap $seen files, fcap audit $counted" >&2
    exit 1
fi
for _ in $(seq "$runs"); do
    { time peers >/dev/null 2>&1; } 2>>"$tmp/t.peers"
    { time audit >/dev/null 2>&1; } 2>>"$tmp/t.audit"
    { time FCAP_SCAN_THREADS=1 "$fcap" audit --no-exceptions --fail-on none "$dir" >/dev/null 2>&1; } 2>>"$tmp/t.audit1"
done
read -r p_best p_med <<<"$(stats "$tmp/t.peers" '$1')"
read -r a_best a_med <<<"$(stats "$tmp/t.audit" '$1')"
read -r p_cbest p_cmed <<<"$(stats "$tmp/t.peers" '$2+$3')"
read -r a_cbest a_cmed <<<"$(stats "$tmp/t.audit" '$2+$3')"
read -r a1_cbest a1_cmed <<<"$(stats "$tmp/t.audit1" '$2+$3')"
sfloor=$(awk '/statx/ {for (i = 1; i < NF; i++) if ($(i + 1) == "ms") print $i}' "$tmp/floor")
printf '%d runs each, in ms        wall best  wall median   cpu best  cpu median\n' "$runs"
printf '  find -perm + getcap -r %9s %12s %10s %11s\n' "$p_best" "$p_med" "$p_cbest" "$p_cmed"
printf '  fcap audit             %9s %12s %10s %11s\n' "$a_best" "$a_med" "$a_cbest" "$a_cmed"
printf '  (find+getcap)/audit    %9s %12s %10s %11s\n' "$(ratio "$p_best" "$a_best")" \
    "$(ratio "$p_med" "$a_med")" "$(ratio "$p_cbest" "$a_cbest")" "$(ratio "$p_cmed" "$a_cmed")"
printf '  fcap audit, 1 thread: %s ms cpu best, %s median = %s the statx floor (%s ms; target <= 1.10x)\n' \
    "$a1_cbest" "$a1_cmed" "$(ratio "$a1_cbest" "$sfloor")" "$sfloor"

# 5. Syscalls.
files=$(find "$dir" -xdev -type f 2>/dev/null | wc -l)
dirs=$(find "$dir" -xdev -type d 2>/dev/null | wc -l)
count() { # name, command...
    local name=$1
    shift
    strace -c -f -o "$tmp/$name.c" "$@" >/dev/null 2>&1 || true
    strace -f -qq -o "$tmp/$name.log" "$@" >/dev/null 2>&1 || true
}
echo "syscalls (strace -c -f; $files regular files, $dirs directories)"
count getcap getcap -r "$dir"
count fcap "$fcap" read -r "$dir"
count audit "$fcap" audit --no-exceptions --fail-on none "$dir"
for tool in getcap fcap audit; do
    # "% time  seconds  usecs/call  calls  errors  syscall": calls is field 4.
    listed=$(awk '$NF == "total" {print $4}' "$tmp/$tool.c")
    lx=$(grep -v 'resumed>' "$tmp/$tool.log" | grep -c 'syscall_0x1d1(' || true)
    gx=$(grep -v 'resumed>' "$tmp/$tool.log" | grep -c 'syscall_0x1d0(' || true)
    total=$((listed + lx + gx))
    printf '  %-6s %7d in all = %.2f per regular file' $tool $total "$(awk -v a=$total -v b="$files" 'BEGIN {print a/b}')"
    if [ $((lx + gx)) -gt 0 ]; then
        printf ' (%d from the -c table + %d listxattrat + %d getxattrat, not in strace 6.1'"'"'s table)' \
            "$listed" "$lx" "$gx"
    fi
    echo
    awk 'NR>2 && $NF != "total" && $0 !~ /^---/ && $4 > 1000 {printf "         %-12s %8d\n", $NF, $4}' "$tmp/$tool.c"
    [ "$lx" -gt 0 ] && printf '         %-12s %8d\n' listxattrat "$lx"
    [ "$gx" -gt 0 ] && printf '         %-12s %8d\n' getxattrat "$gx"
done
