//! Proof that a node leaves nothing behind on the host — no process, mount,
//! cgroup, network interface, iptables rule or changed kernel setting —
//! whether it is dropped or its test process is killed with SIGKILL.
//! Its own binary: it compares the whole host before and after, so no other
//! node may run meanwhile.

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)] // test code

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flux_testenv::{ControlPlane, ControlPlaneOptions, eventually_within};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

const CHILD: &str = "FLUX_TESTENV_NODE_TEARDOWN_CHILD";

/// What a node could leave on the host.
#[derive(Debug, PartialEq, Eq)]
struct HostState {
    processes: Vec<String>,
    mounts: Vec<String>,
    cgroups: Vec<String>,
    files: Vec<String>,
    links: Vec<String>,
    rules: Vec<String>,
    sysctls: Vec<String>,
}

fn sh(script: &str) -> Vec<String> {
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn host_state() -> HostState {
    HostState {
        // Node components and container shims (the control plane's own
        // processes are not the node's business).
        processes: sh(
            "ps -eo args= | grep -E '^(/usr/bin/containerd|containerd-shim|[^ ]*/(kubelet|kube-proxy|kube-scheduler|pause|coredns|web) )' | grep -v grep || true",
        ),
        mounts: sh("grep -E 'flux-testenv|/run/netns' /proc/self/mountinfo || true"),
        cgroups: sh(
            "ls -d /sys/fs/cgroup/*/flux-testenv /sys/fs/cgroup/*/kubepods 2>/dev/null || true",
        ),
        // What the runtime and the kubelet keep outside the node's folder.
        files: sh(
            "ls /run/containerd/s /var/lib/cni/results /var/log/containers 2>/dev/null || true",
        ),
        // Interface names and kinds: the bridge, veth pairs.
        links: sh("ip -o link show | awk '{print $2}'"),
        // Rules and user chains of every table, without counters.
        rules: sh(
            "for c in iptables-save ip6tables-save; do $c 2>/dev/null | grep -E '^(-A|:[A-Z0-9-]+ -)' | sed 's/\\[[0-9:]*\\]//'; done | sort",
        ),
        sysctls: sh(
            "cd /proc/sys && for k in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables net/ipv4/conf/all/route_localnet vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do echo \"$k $(cat $k)\"; done",
        ),
    }
}

/// Starts a node with a Pod behind a Service (so that it has a veth,
/// mounts, kube-proxy rules), and returns the control plane.
async fn busy_node() -> ControlPlane {
    let cp = ControlPlane::start_with(ControlPlaneOptions {
        node: true,
        ..ControlPlaneOptions::default()
    })
    .unwrap();
    let image = cp.node().unwrap().image("web").unwrap().to_string();
    let client = cp.client().unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": image}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let services: Api<Service> = Api::namespaced(client, "default");
    let service: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }))
    .unwrap();
    services
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    eventually_within("the Pod to run", Duration::from_secs(120), || async {
        let phase = pods.get("web").await.ok()?.status?.phase?;
        (phase == "Running").then_some(())
    })
    .await
    .unwrap();
    cp
}

/// Not a test of its own: the child process the crash test kills.
#[tokio::test]
#[ignore = "run by node_teardown_leaves_nothing_behind"]
async fn child_runs_a_node_until_killed() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let _cp = busy_node().await;
    println!("READY");
    tokio::time::sleep(Duration::from_secs(600)).await;
}

/// Waits until no node runs or is being reaped (the previous test binary's
/// may still be cleaning up): its reaper holds the machine lock until done.
fn no_node_running() {
    let status = Command::new("flock")
        .args(["/run/flux-testenv/node.lock", "true"])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn node_teardown_leaves_nothing_behind() {
    std::fs::create_dir_all("/run/flux-testenv").unwrap();
    no_node_running();
    let before = host_state();

    // Dropped.
    let cp = busy_node().await;
    let during = host_state();
    assert!(
        during.links.iter().any(|l| l.starts_with("fluxtest0")),
        "{during:?}"
    );
    assert!(
        during.links.iter().any(|l| l.starts_with("veth")),
        "{during:?}"
    );
    assert!(
        during.rules.iter().any(|r| r.contains("KUBE-SERVICES")),
        "{during:?}"
    );
    assert!(!during.mounts.is_empty() && !during.cgroups.is_empty());
    assert!(
        during
            .processes
            .iter()
            .any(|p| p.contains("containerd-shim")),
        "{during:?}"
    );
    drop(cp);
    assert_eq!(host_state(), before, "after the node was dropped");

    // Killed: the reaper cleans up after a process that had no chance to.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_runs_a_node_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("READY"));
    assert!(ready, "the child started its node");
    assert_ne!(host_state(), before);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let start = Instant::now();
    let mut after = host_state();
    while after != before && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(250));
        after = host_state();
    }
    assert_eq!(after, before, "after the node's process was killed");
}
