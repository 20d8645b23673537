#!/usr/bin/env bash
# Benchmark `fcap read --image` against the floor, decompressing the same layers, in
# one run.
#
#   scripts/bench-image.sh [RUNS]        (default: 5)
#   FCAP_BASELINE=/path/to/an/older/fcap scripts/bench-image.sh
#                                        (also times that binary, interleaved)
#
# Builds the release binary and, once (cached in target/bench-image/; delete it to
# rebuild), a real image with real tools: umoci makes an OCI layout with four gzip
# layers (repack and insert) from copies of the host's /usr/bin, /usr/lib/python3.11
# and /usr/share/locale (about 540 MB of tar; setcap on one file in 40 of /usr/bin, a
# v3 value, a hard link to a capped file, a deleted capped file and a deleted
# directory, which become whiteouts); skopeo copies it with zstd layers, and to a
# legacy docker-archive (plain layers). It checks that fcap's findings on each form
# equal `getcap -r` on the image unpacked by umoci, then times RUNS interleaved runs of:
#   - the floor: each layer blob decompressed serially to /dev/null by `gzip -dc` or
#     `zstd -dc` (`cat` for the docker-archive), and in-process by the same crates fcap
#     links (benches/image_floor.rs);
#   - what checking the digests costs: `sha256sum` and sha2 (in-process) over the
#     blobs. fcap cannot use less CPU than the in-process floor plus sha2;
#   - `fcap read --image` with FCAP_SCAN_THREADS=1 and 2, and `fcap audit --image` with
#     2 (it keeps the set-ID files too, and must cost no more than read);
# and prints wall and CPU times (best and median) and fcap/floor ratios. Last, fcap's
# peak RSS on each form and on two synthetic layers of 100,000 and 1,000,000 empty
# files (Python's tarfile, gzip -1), which must be about the same. Then writing:
# `fcap grant --image` of three files of the gzip image (a symlink, a hard-linked file
# and a plain one, as a new tag in a hard-linked copy of the layout) against
# `fcap read --image` of the same image plus `gzip -6` of the copied bytes (target:
# at most 1.2x that), and against what users do today, `umoci unpack` + `setcap` +
# `umoci repack` (target: ten times faster or better; timed once, it is slow), with
# the grant's peak RSS.
set -euo pipefail

runs=${1:-5}
cd "$(dirname "$0")/.."
for t in umoci:umoci skopeo:skopeo zstd:zstd gzip:gzip getcap:libcap2-bin \
    setcap:libcap2-bin /usr/bin/time:time /usr/bin/python3:python3; do
    command -v "${t%%:*}" >/dev/null 2>&1 || {
        echo "bench-image: ${t%%:*} is missing (Debian package ${t#*:})" >&2
        exit 2
    }
done
# The binary's path as cargo reports it: it depends on the target .cargo/config.toml
# (or CARGO_BUILD_TARGET) builds for.
fcap=$(cargo build --release --quiet --message-format=json |
    sed -n 's/.*"executable":"\([^"]*\/fcap\)".*/\1/p' | tail -1)
[ -x "$fcap" ] || {
    echo "${0##*/}: cargo built no fcap binary" >&2
    exit 2
}
baseline=${FCAP_BASELINE:-}
floor=$(cargo bench --no-run --bench image_floor 2>&1 |
    sed -n 's/.*Executable .*(\(.*image_floor-[0-9a-f]*\)).*/\1/p' | tail -1)
[ -x "$floor" ] || {
    echo "bench-image: cannot build benches/image_floor.rs" >&2
    exit 2
}
cache=$PWD/target/bench-image
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Layer blobs of an OCI layout's image tagged `bench`, in manifest order.
blobs() {
    /usr/bin/python3 - "$1" <<'EOF'
import json, sys
lay = sys.argv[1]
def blob(d):
    alg, hexa = d["digest"].split(":")
    return f"{lay}/blobs/{alg}/{hexa}"
idx = json.load(open(f"{lay}/index.json"))
m = [d for d in idx["manifests"]
     if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == "bench"]
for layer in json.load(open(blob(m[0])))["layers"]:
    print(blob(layer))
EOF
}

# A gzip'd layer tar of N empty files in directories of 1000, every 100,000th with
# cap_net_raw=ep (a SCHILY.xattr PAX record); the expected `read` output beside it.
synth() { # N OUT
    /usr/bin/python3 - "$1" "$2.expected" <<'EOF' | gzip -1 >"$2"
import io, struct, sys, tarfile
n, expected = int(sys.argv[1]), sys.argv[2]
cap = struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0).decode("utf-8", "surrogateescape")
hits = []
with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as t:
    for i in range(n):
        if i % 1000 == 0:
            d = tarfile.TarInfo(f"d{i // 1000:04d}")
            d.type, d.mode = tarfile.DIRTYPE, 0o755
            t.addfile(d)
        f = tarfile.TarInfo(f"d{i // 1000:04d}/f{i:07d}")
        f.mode = 0o755
        if i % 100_000 == 0:
            f.pax_headers = {"SCHILY.xattr.security.capability": cap}
            hits.append(f"/{f.name} cap_net_raw=ep\n")
        t.addfile(f)
open(expected, "w").write("".join(hits))
EOF
}

if [ ! -e "$cache/done" ]; then
    echo "building the benchmark image in $cache (once)..."
    rm -rf "$cache"/oci* "$cache"/docker.tar "$cache"/bundle "$cache"/check
    mkdir -p "$cache"
    (
        cd "$cache"
        umoci init --layout oci
        umoci new --image oci:bench
        umoci unpack --image oci:bench bundle >/dev/null
        r=bundle/rootfs
        # Layer 1: /usr/bin, one file in 40 with a capability (umoci repack).
        mkdir -p "$r/usr"
        cp -a /usr/bin "$r/usr/"
        caps=(cap_net_raw=ep cap_net_bind_service=ep cap_sys_nice+ep "cap_chown,cap_fowner=eip"
            cap_net_admin=p cap_dac_read_search=ei)
        i=0
        while IFS= read -r f; do
            setcap "${caps[i % ${#caps[@]}]}" "$f"
            i=$((i + 1))
        done < <(find "$r/usr/bin" -type f | LC_ALL=C sort | awk 'NR % 40 == 1')
        umoci repack --image oci:bench bundle
        rm -rf bundle
        # Layers 2 and 3: many small files, then large ones (umoci insert, which
        # writes layers without the end-of-archive blocks, as real images have them).
        umoci insert --image oci:bench /usr/lib/python3.11 /usr/lib/python3.11
        umoci insert --image oci:bench /usr/share/locale /usr/share/locale
        # Layer 4: changes: delete a capped file and a directory (whiteouts), a v3
        # value, a hard link to a capped file, a new capability on a Python file.
        umoci unpack --image oci:bench bundle >/dev/null
        mapfile -t capped < <(getcap -r "$r/usr/bin" | awk '{print $1}' | LC_ALL=C sort)
        rm "${capped[0]}"
        rm -rf "$r/usr/share/locale/fr"
        setcap -n 1000 cap_net_admin=ep "${capped[1]}"
        ln "${capped[2]}" "$r/usr/bin/hardlink-to-capped"
        setcap cap_setuid=ep "$r/usr/lib/python3.11/os.py"
        umoci repack --image oci:bench bundle
        rm -rf bundle
        umoci gc --layout oci
        skopeo copy -q --dest-compress-format zstd oci:oci:bench oci:oci-zstd:bench
        skopeo copy -q oci:oci:bench docker-archive:docker.tar:bench:latest
        # The oracle: the image unpacked by umoci, read by getcap.
        umoci unpack --image oci:bench check >/dev/null
        getcap -r check/rootfs | sed 's|^check/rootfs||' | LC_ALL=C sort >getcap.out
        rm -rf check
        touch done
    )
fi
for n in 100k:100000 1m:1000000; do
    f=$cache/synth-${n%%:*}.tar.gz
    if [ ! -e "$f" ]; then
        echo "making a layer of ${n#*:} entries in $f (once)..."
        synth "${n#*:}" "$f.part"
        mv "$f.part.expected" "$f.expected"
        mv "$f.part" "$f"
    fi
done

mapfile -t gz < <(blobs "$cache/oci")
mapfile -t zst < <(blobs "$cache/oci-zstd")
# Two layers: the /usr/bin one, then one of the synthetic layers. With two threads the
# upper layer's worker runs ahead and holds the paths it replaces until the lower
# layer is merged: at most 262,144 of them, whatever the number of entries.
for n in 100k 1m; do
    d=$cache/two-$n
    if [ ! -e "$d.done" ]; then
        echo "making a two-layer image in $d (once)..."
        rm -rf "$d"
        umoci init --layout "$d"
        umoci new --image "$d:bench"
        gzip -dc "${gz[0]}" >"$cache/part.tar"
        umoci raw add-layer --image "$d:bench" "$cache/part.tar"
        gzip -dc "$cache/synth-$n.tar.gz" >"$cache/part.tar"
        umoci raw add-layer --image "$d:bench" "$cache/part.tar"
        rm "$cache/part.tar"
        touch "$d.done"
    fi
done
docker=$cache/docker.tar
mb() { du -b --apparent-size -c "$@" | awk 'END {printf "%.0f MB", $1 / 1e6}'; }
unpacked=$(gzip -dc "${gz[@]}" | wc -c | awk '{printf "%.0f MB", $1 / 1e6}')
echo "image: ${#gz[@]} layers, $unpacked of tar; gzip blobs $(mb "${gz[@]}"), zstd blobs $(mb "${zst[@]}"), docker-archive $(mb "$docker")"

# 1. Same findings as getcap on the unpacked image, for every container.
[ -s "$cache/getcap.out" ] || {
    echo "getcap found nothing in the unpacked image" >&2
    exit 1
}
for img in "$cache/oci:bench" "$cache/oci-zstd:bench" "$docker"; do
    "$fcap" read --image "$img" 2>"$tmp/err" | LC_ALL=C sort >"$tmp/fcap.out" || {
        echo "fcap read --image $img failed: $(cat "$tmp/err")" >&2
        exit 1
    }
    if ! cmp -s "$cache/getcap.out" "$tmp/fcap.out"; then
        echo "findings on ${img#"$cache"/}: DIFFERENT from getcap -r on the unpacked image" >&2
        diff "$cache/getcap.out" "$tmp/fcap.out" >&2 || true
        exit 1
    fi
done
echo "findings: identical to getcap -r on the unpacked image, for the gzip, zstd and docker-archive forms ($(wc -l <"$cache/getcap.out") files with capabilities)"

# 2. Time, interleaved. CPU time (user + sys) is the work done whatever else the
# machine runs; wall clock is what a user waits.
names=(gz.gzip gz.floor gz.sha256sum gz.sha2 gz.fcap1 gz.fcap2 gz.audit2
    zst.zstd zst.floor zst.sha256sum zst.sha2 zst.fcap1 zst.fcap2 zst.audit2
    tar.cat tar.floor tar.sha256sum tar.sha2 tar.fcap1 tar.fcap2 tar.audit2)
[ -z "$baseline" ] || names+=(gz.base1 gz.base2 zst.base1 zst.base2 tar.base1 tar.base2)
audit() { FCAP_SCAN_THREADS=2 "$fcap" audit --no-exceptions --fail-on none --image "$1"; }
cmd() {
    case $1 in
        gz.gzip) for b in "${gz[@]}"; do gzip -dc "$b"; done ;;
        gz.floor) "$floor" "${gz[@]}" ;;
        gz.sha256sum) sha256sum "${gz[@]}" ;;
        gz.sha2) "$floor" --sha256 "${gz[@]}" ;;
        gz.fcap*) FCAP_SCAN_THREADS=${1#gz.fcap} "$fcap" read --image "$cache/oci:bench" ;;
        gz.base*) FCAP_SCAN_THREADS=${1#gz.base} "$baseline" read --image "$cache/oci:bench" ;;
        gz.audit2) audit "$cache/oci:bench" ;;
        zst.zstd) for b in "${zst[@]}"; do zstd -qdc "$b"; done ;;
        zst.floor) "$floor" "${zst[@]}" ;;
        zst.sha256sum) sha256sum "${zst[@]}" ;;
        zst.sha2) "$floor" --sha256 "${zst[@]}" ;;
        zst.fcap*) FCAP_SCAN_THREADS=${1#zst.fcap} "$fcap" read --image "$cache/oci-zstd:bench" ;;
        zst.base*) FCAP_SCAN_THREADS=${1#zst.base} "$baseline" read --image "$cache/oci-zstd:bench" ;;
        zst.audit2) audit "$cache/oci-zstd:bench" ;;
        tar.cat) cat "$docker" ;;
        tar.floor) "$floor" "$docker" ;;
        tar.sha256sum) sha256sum "$docker" ;;
        tar.sha2) "$floor" --sha256 "$docker" ;;
        tar.fcap*) FCAP_SCAN_THREADS=${1#tar.fcap} "$fcap" read --image "$docker" ;;
        tar.base*) FCAP_SCAN_THREADS=${1#tar.base} "$baseline" read --image "$docker" ;;
        tar.audit2) audit "$docker" ;;
    esac
}
TIMEFORMAT='%3R %3U %3S'
cat "${gz[@]}" "${zst[@]}" "$docker" >/dev/null # warm the page cache
for _ in $(seq "$runs"); do
    for n in "${names[@]}"; do
        { time cmd "$n" >/dev/null 2>&1; } 2>>"$tmp/t.$n"
    done
done
# best and median of a column expression, in ms
stats() { awk "{print $2}" "$1" | sort -n | awk '{a[NR]=$1} END {printf "%.0f %.0f", a[1]*1000, a[int((NR+1)/2)]*1000}'; }
declare -A wb wm cb cm
for n in "${names[@]}"; do
    read -r "wb[$n]" "wm[$n]" <<<"$(stats "$tmp/t.$n" '$1')"
    read -r "cb[$n]" "cm[$n]" <<<"$(stats "$tmp/t.$n" '$2+$3')"
done
label() {
    case $1 in
        *.gzip) echo "floor: gzip -dc each blob" ;;
        *.zstd) echo "floor: zstd -dc each blob" ;;
        *.cat) echo "floor: cat the archive" ;;
        *.floor) echo "floor in-process (image_floor)" ;;
        tar.sha256sum) echo "sha256sum of the archive" ;;
        tar.sha2) echo "sha2 of the archive (in-process)" ;;
        *.sha256sum) echo "sha256sum of the blobs" ;;
        *.sha2) echo "sha2 of the blobs (in-process)" ;;
        *.fcap1) echo "fcap read --image, 1 thread" ;;
        *.fcap2) echo "fcap read --image, 2 threads" ;;
        *.audit2) echo "fcap audit --image, 2 threads" ;;
        *.base1) echo "FCAP_BASELINE read --image, 1 thread" ;;
        *.base2) echo "FCAP_BASELINE read --image, 2 threads" ;;
        *.both) echo "in-process floor + sha2" ;;
    esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'; }
printf '%d runs each, in ms                            wall best  wall median   cpu best  cpu median\n' "$runs"
for form in gz zst tar; do
    case $form in
        gz) echo "OCI layout, gzip layers" ;;
        zst) echo "OCI layout, zstd layers (skopeo)" ;;
        tar) echo "docker-archive, plain layers (skopeo)" ;;
    esac
    base=
    for n in "${names[@]}"; do
        [ "${n%%.*}" = "$form" ] || continue
        [ -n "$base" ] || base=$n
        printf '  %-44s %9s %12s %10s %11s\n' "$(label "$n")" "${wb[$n]}" "${wm[$n]}" "${cb[$n]}" "${cm[$n]}"
    done
    # The floor fcap itself cannot go under: the same decompressor in-process, plus
    # the digest check, one after the other on one core.
    wb[$form.both]=$((wb[$form.floor] + wb[$form.sha2]))
    wm[$form.both]=$((wm[$form.floor] + wm[$form.sha2]))
    cb[$form.both]=$((cb[$form.floor] + cb[$form.sha2]))
    cm[$form.both]=$((cm[$form.floor] + cm[$form.sha2]))
    printf '  %-44s %9s %12s %10s %11s\n' "in-process floor + sha2" \
        "${wb[$form.both]}" "${wm[$form.both]}" "${cb[$form.both]}" "${cm[$form.both]}"
    printf '  %-44s %9s %12s %10s %11s\n' "fcap audit / fcap read --image, 2 threads" \
        "$(ratio "${wb[$form.audit2]}" "${wb[$form.fcap2]}")" "$(ratio "${wm[$form.audit2]}" "${wm[$form.fcap2]}")" \
        "$(ratio "${cb[$form.audit2]}" "${cb[$form.fcap2]}")" "$(ratio "${cm[$form.audit2]}" "${cm[$form.fcap2]}")"
    for t in 1 2; do
        [ -z "$baseline" ] || printf '  %-44s %9s %12s %10s %11s\n' "fcap / FCAP_BASELINE, $t thread(s)" \
            "$(ratio "${wb[$form.fcap$t]}" "${wb[$form.base$t]}")" "$(ratio "${wm[$form.fcap$t]}" "${wm[$form.base$t]}")" \
            "$(ratio "${cb[$form.fcap$t]}" "${cb[$form.base$t]}")" "$(ratio "${cm[$form.fcap$t]}" "${cm[$form.base$t]}")"
        for b in "$base" "$form.both"; do
            printf '  %-44s %9s %12s %10s %11s\n' "fcap, $t thread(s) / $(label "$b" | sed 's/^floor: //')" \
                "$(ratio "${wb[$form.fcap$t]}" "${wb[$b]}")" "$(ratio "${wm[$form.fcap$t]}" "${wm[$b]}")" \
                "$(ratio "${cb[$form.fcap$t]}" "${cb[$b]}")" "$(ratio "${cm[$form.fcap$t]}" "${cm[$b]}")"
        done
    done
done
echo "  (targets: 1 thread <= 1.15x the serial floor; 2 threads faster than it, in wall time; $(nproc) cores; load average now: $(cut -d' ' -f1 /proc/loadavg))"

# 3. Memory: peak RSS, which must not grow with the number of entries.
rss() { # label, image, [file of lines the findings must include, threads]
    local out
    out=$(FCAP_SCAN_THREADS=${4:-$(nproc)} /usr/bin/time -f '%M %e' -o "$tmp/rss" \
        "$fcap" read --image "$2" 2>/dev/null | LC_ALL=C sort)
    [ -n "$out" ] || {
        echo "fcap found nothing in $2" >&2
        exit 1
    }
    if [ -e "$2.expected" ] && [ "$out" != "$(cat "$2.expected")" ]; then
        echo "fcap's findings in $2 are not the capped entries it was made with" >&2
        exit 1
    fi
    if [ -n "${3:-}" ] && [ -n "$(LC_ALL=C comm -23 "$3" <(echo "$out"))" ]; then
        echo "fcap's findings in $2 miss capped entries of its upper layer" >&2
        exit 1
    fi
    read -r kb s <"$tmp/rss"
    printf '  %-52s %7.1f MB %8.2f s\n' "$1" "$(awk -v k="$kb" 'BEGIN {print k / 1024}')" "$s"
}
printf '%-54s %10s %10s\n' "peak RSS of fcap read --image ($(nproc) threads unless said)" "max RSS" "wall"
rss "the image above, gzip layers" "$cache/oci:bench"
rss "the image above, zstd layers" "$cache/oci-zstd:bench"
rss "the image above, docker-archive" "$docker"
rss "one gzip layer of 100,000 empty files" "$cache/synth-100k.tar.gz"
rss "one gzip layer of 1,000,000 empty files" "$cache/synth-1m.tar.gz"
rss "/usr/bin's layer + 100,000 entries, 1 thread" "$cache/two-100k:bench" "$cache/synth-100k.tar.gz.expected" 1
rss "/usr/bin's layer + 100,000 entries, 2 threads" "$cache/two-100k:bench" "$cache/synth-100k.tar.gz.expected" 2
rss "/usr/bin's layer + 1,000,000 entries, 1 thread" "$cache/two-1m:bench" "$cache/synth-1m.tar.gz.expected" 1
rss "/usr/bin's layer + 1,000,000 entries, 2 threads" "$cache/two-1m:bench" "$cache/synth-1m.tar.gz.expected" 2

# 4. Writing capabilities into the image.
targets=(/usr/bin/python3 /usr/bin/perl /usr/bin/bash)
real=()
for t in "${targets[@]}"; do real+=("$(readlink -f "$t")"); done
cp -al "$cache/oci" "$tmp/lay"
copied=$(du -bL -c "${real[@]}" | awk 'END {print $1}')
wnames=(w.read w.gzip w.grant)
wcmd() {
    case $1 in
        w.read) "$fcap" read --image "$tmp/lay:bench" ;;
        w.gzip) cat "${real[@]}" | gzip -6 ;;
        w.grant) "$fcap" grant cap_net_bind_service "${targets[@]}" --image "$tmp/lay:bench" \
            --output "$tmp/lay:fcap" --force ;;
    esac
}
for _ in $(seq "$runs"); do
    for n in "${wnames[@]}"; do
        { time wcmd "$n" >/dev/null 2>"$tmp/err.$n"; } 2>>"$tmp/t.$n" || {
            echo "$n failed: $(cat "$tmp/err.$n")" >&2
            exit 1
        }
    done
done
# The grant did what it says: fcap's reader and umoci + getcap agree on the new tag.
"$fcap" read --image "$tmp/lay:fcap" /usr/bin/python3.11 /usr/bin/perl /usr/bin/bash >"$tmp/w.out"
grep -c cap_net_bind_service=ep "$tmp/w.out" | grep -qx 3 || {
    echo "grant --image did not give the three files the capability:" >&2
    cat "$tmp/w.out" >&2
    exit 1
}
for n in "${wnames[@]}"; do
    read -r "wb[$n]" "wm[$n]" <<<"$(stats "$tmp/t.$n" '$1')"
    read -r "cb[$n]" "cm[$n]" <<<"$(stats "$tmp/t.$n" '$2+$3')"
done
# Today's workflow, once.
# (setcap refuses a symlink, and takes one file per capability text: it is given
# the real files, as fcap found them, one at a time.)
{ time (umoci unpack --image "$tmp/lay:bench" "$tmp/bundle" >/dev/null 2>"$tmp/umoci.err" &&
    for f in "${real[@]}"; do setcap cap_net_bind_service=ep "$tmp/bundle/rootfs$f" || exit; done 2>>"$tmp/umoci.err" &&
    umoci repack --image "$tmp/lay:umoci" "$tmp/bundle" >/dev/null 2>>"$tmp/umoci.err"); } 2>"$tmp/t.umoci" || {
    echo "the umoci workflow failed: $(cat "$tmp/umoci.err")" >&2
    exit 1
}
rm -rf "$tmp/bundle"
read -r uw uu us <"$tmp/t.umoci"
umoci_ms=$(awk -v w="$uw" 'BEGIN {printf "%.0f", w * 1000}')
umoci_cpu=$(awk -v u="$uu" -v s="$us" 'BEGIN {printf "%.0f", (u + s) * 1000}')
/usr/bin/time -f '%M' -o "$tmp/wrss" "$fcap" grant cap_net_bind_service "${targets[@]}" \
    --image "$tmp/lay:bench" --output "$tmp/lay:fcap" --force >/dev/null
printf 'writing: grant --image of 3 files (%s MB copied up), %d runs, ms     wall best  wall median   cpu best  cpu median\n' \
    "$(awk -v b="$copied" 'BEGIN {printf "%.1f", b / 1e6}')" "$runs"
printf '  %-44s %9s %12s %10s %11s\n' "fcap read --image (the same image)" "${wb[w.read]}" "${wm[w.read]}" "${cb[w.read]}" "${cm[w.read]}"
printf '  %-44s %9s %12s %10s %11s\n' "gzip -6 of the copied bytes" "${wb[w.gzip]}" "${wm[w.gzip]}" "${cb[w.gzip]}" "${cm[w.gzip]}"
printf '  %-44s %9s %12s %10s %11s\n' "fcap grant --image --output (a new tag)" "${wb[w.grant]}" "${wm[w.grant]}" "${cb[w.grant]}" "${cm[w.grant]}"
printf '  %-44s %9s %12s %10s %11s\n' "grant / (read + gzip)" \
    "$(ratio "${wb[w.grant]}" $((wb[w.read] + wb[w.gzip])))" "$(ratio "${wm[w.grant]}" $((wm[w.read] + wm[w.gzip])))" \
    "$(ratio "${cb[w.grant]}" $((cb[w.read] + cb[w.gzip])))" "$(ratio "${cm[w.grant]}" $((cm[w.read] + cm[w.gzip])))"
printf '  %-44s %9s %12s %10s %11s\n' "umoci unpack + setcap + umoci repack (once)" "$umoci_ms" "" "$umoci_cpu" ""
printf '  %-44s %9s %12s %10s %11s\n' "umoci workflow / fcap grant" "$(ratio "$umoci_ms" "${wb[w.grant]}")" "" \
    "$(ratio "$umoci_cpu" "${cb[w.grant]}")" ""
printf '  %-44s %7.1f MB\n' "peak RSS of the grant" "$(awk -v k="$(cat "$tmp/wrss")" 'BEGIN {print k / 1024}')"
echo "  (targets: grant <= 1.2x read + gzip; the umoci workflow >= 10x the grant)"
