#!/usr/bin/env bash
# kpath against the kernel on the same node dump, side by side in one run: load a kube-proxy
# node's iptables-save of N Services x E endpoints (made by `kpath generate`) with
# iptables-restore into a fresh network namespace, and load and answer the same dump with
# `kpath trace --iptables-save` (a SYN to the last Service, the longest walk). Prints wall
# time and peak memory of each and the ratio. Needs root, iptables and GNU time.
#
#   sudo benches/against-iptables-restore.sh [SERVICES] [ENDPOINTS] [ROUNDS]
set -euo pipefail
n=${1:-10000}; e=${2:-5}; rounds=${3:-3}
kpath=${KPATH:-$(dirname "$0")/../target/release/kpath}
[ -x "$kpath" ] || { echo "build first: cargo build --release" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (it creates a network namespace)" >&2; exit 1; }
dir=$(mktemp -d); ns=kpath-bench-$$
trap 'ip netns del "$ns" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$kpath" generate --services "$n" --endpoints "$e" --dump iptables-save > "$dir/node.rules"
# The last Service's ClusterIP: 10.96.0.16 + n - 1 (kpath::scale's address plan).
last=$(( (10 << 24 | 96 << 16) + 16 + n - 1 ))
dst="$((last >> 24 & 255)).$((last >> 16 & 255)).$((last >> 8 & 255)).$((last & 255)):80"
echo "dump: $n Services x $e endpoints, $(stat -c %s "$dir/node.rules") bytes; packet to $dst"
measure() { /usr/bin/time -f "%e %M %U %S" "$@" > /dev/null 2> "$dir/time" || { cat "$dir/time" >&2; exit 1; }; tail -1 "$dir/time"; }
for r in $(seq "$rounds"); do
  # An untimed warm-up run first, as hyperfine's --warmup does: on a VM the first process
  # to touch memory that the previous round's namespace freed pays for the host to back it
  # again (0.1-0.3 s of clear_page in the kernel, whatever the process), and without it
  # that cost lands on whichever tool runs first.
  "$kpath" trace --iptables-save "$dir/node.rules" --src 10.128.0.2 --dst "$dst" --local-ip 172.16.0.16 > /dev/null
  read -r pt pm pu ps < <(measure "$kpath" trace --iptables-save "$dir/node.rules" --src 10.128.0.2 --dst "$dst" --local-ip 172.16.0.16)
  ip netns add "$ns"
  read -r kt km ku ks < <(measure ip netns exec "$ns" iptables-restore "$dir/node.rules")
  ip netns del "$ns"
  # The kernel frees a deleted namespace's rules later, in a workqueue, on both cores; let
  # it finish before the next round's kpath run instead of timing kpath beside it.
  sleep 5
  # Wall time decides the ratio; CPU time (user + system) is printed beside it, since
  # the VM's page faults sometimes add a few tenths of a second of system time.
  awk -v r="$r" -v kt="$kt" -v km="$km" -v ku="$ku" -v ks="$ks" -v pt="$pt" -v pm="$pm" -v pu="$pu" -v ps="$ps" 'BEGIN {
    printf "round %d: iptables-restore %.2f s (cpu %.2f s) %d MB | kpath load and answer %.2f s (cpu %.2f s) %d MB | kpath %.1fx faster\n",
      r, kt, ku + ks, km / 1024, pt, pu + ps, pm / 1024, (pt > 0 ? kt / pt : 0) }'
  echo "$kt $pt" >> "$dir/ratios"
done
# The median round's ratio: one slow round (the VM's noise) neither makes nor breaks it.
sort -n -k1,1 <(awk '{ printf "%.1f\n", ($2 > 0 ? $1 / $2 : 0) }' "$dir/ratios") \
  | awk '{ v[NR] = $1 } END { printf "median of %d rounds: kpath %.1fx faster (slowest round %.1fx)\n", NR, v[int((NR + 1) / 2)], v[1] }'
