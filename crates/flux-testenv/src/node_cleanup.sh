# Reaps everything a flux-testenv node leaves on the host, whether it stopped
# cleanly or its test process was killed. Run by the node's reaper after it
# has stopped containerd, the kubelet, kube-proxy and the scheduler; run
# again by the next node when a record of an unreaped node remains.
# Usage: sh node_cleanup.sh DIR KUBE_PROXY
dir=$1; kube_proxy=$2
cgroup=flux-testenv

kill_ours() {
  # Container processes live in the node's cgroups, in every hierarchy.
  for f in $(find /sys/fs/cgroup/*/"$cgroup" /sys/fs/cgroup/"$cgroup" -name cgroup.procs 2>/dev/null); do
    for p in $(cat "$f" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  # The containerd shims name the node's containerd socket on their
  # command line.
  for p in /proc/[0-9]*; do
    if { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null | grep -q -F -e "-address $dir/containerd.sock"; then
      kill -KILL "${p#/proc/}" 2>/dev/null
    fi
  done
}
kill_ours; sleep 0.3; kill_ours

# Mounts under the folder (the kubelet's bind mount of its root, volumes,
# container root filesystems, network namespaces), deepest first.
i=0
while [ $i -lt 5 ]; do
  mounts=$(awk -v d="$dir/" 'index($5, d) == 1 || $5 == substr(d, 1, length(d) - 1) {print $5}' /proc/self/mountinfo | sort -r)
  [ -z "$mounts" ] && break
  for m in $mounts; do umount -l "$m" 2>/dev/null; done
  i=$((i + 1))
done

# The cgroups, deepest first (a cgroup goes once its processes are gone).
i=0
while [ $i -lt 20 ]; do
  left=""
  for h in /sys/fs/cgroup/*/"$cgroup" /sys/fs/cgroup/"$cgroup"; do
    [ -d "$h" ] || continue
    find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null
    [ -d "$h" ] && left=1
  done
  [ -z "$left" ] && break
  kill_ours; sleep 0.1; i=$((i + 1))
done

# The pod bridge, kube-proxy's rules, then every KUBE-* chain that was not there before the
# node started (the kubelet's KUBE-FIREWALL and canaries): the rules that
# jump to them, then the chains.
[ -x "$kube_proxy" ] && "$kube_proxy" --cleanup >/dev/null 2>&1
for cmd in iptables ip6tables; do
  command -v "$cmd-save" >/dev/null 2>&1 || continue
  for table in filter nat mangle; do
    new=""
    for c in $("$cmd-save" -t "$table" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
      grep -q -x -F "$cmd $table $c" "$dir/iptables.before" 2>/dev/null || new="$new $c"
    done
    [ -z "$new" ] && continue
    for c in $new; do
      "$cmd-save" -t "$table" | grep -E -e "^-A [^ ]+ .*-j $c( |\$)" | sed 's/^-A /-D /' |
        while read -r rule; do eval "$cmd -w -t $table $rule" 2>/dev/null; done
    done
    for c in $new; do "$cmd" -w -t "$table" -F "$c" 2>/dev/null; done
    for c in $new; do "$cmd" -w -t "$table" -X "$c" 2>/dev/null; done
  done
done
ip link del fluxtest0 2>/dev/null
if [ -f "$dir/sysctl.saved" ]; then
  while read -r key value; do
    [ -n "$key" ] && printf '%s\n' "$value" > "/proc/sys/$key" 2>/dev/null
  done < "$dir/sysctl.saved"
fi
# Files outside the folder: the CNI result cache of the node's sandboxes
# (they name its network namespaces), the kubelet's links to container
# logs, and the sockets of shims that no longer listen.
grep -l -F "$dir/" /var/lib/cni/results/* 2>/dev/null | while read -r f; do rm -f "$f"; done
find /var/log/containers -maxdepth 1 -type l -lname "$dir/*" -delete 2>/dev/null
for s in /run/containerd/s/*; do
  [ -S "$s" ] || continue
  grep -q -F " $s" /proc/net/unix || rm -f "$s"
done

[ "$(cat /run/flux-testenv/node.dir 2>/dev/null)" = "$dir" ] && rm -f /run/flux-testenv/node.dir
exit 0
