//! A real node for the control plane: kube-scheduler, a kubelet on Debian's
//! containerd and runc, CNI bridge networking, kube-proxy in iptables mode
//! and CoreDNS serving `cluster.local`, with a local registry as the
//! cluster's only image source.
//!
//! The node needs root (cgroups, mounts, network namespaces, iptables). One
//! node runs on a machine at a time: its reaper holds a lock in
//! `/run/flux-testenv` from the start until its cleanup is done; the next
//! one waits. Everything it creates on the host lives under its folder, in
//! the `flux-testenv` cgroup of every hierarchy, on the `fluxtest0` bridge
//! and in kube-proxy's chains, and `node_cleanup.sh` removes all of it when
//! the node stops, however its test process ends (see the `process`
//! module); a node that finds the record of one that was never reaped reaps
//! it first.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Node as NodeObject;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Client, Config};
use serde_json::{Value, json};

use crate::control_plane::block_on;
use crate::error::{Error, Result, io, kube as kube_err};
use crate::image::{PushedImage, push_node_images};
use crate::oci::OciRegistry;
use crate::process::{Supervisor, free_port, run, tool};

/// The cluster's pod network; each node gets a /24 of it from the
/// controller manager.
pub(crate) const CLUSTER_CIDR: &str = "10.244.0.0/16";
/// The ClusterIP of the `kube-dns` Service, in the service range
/// `10.0.0.0/24`.
pub const CLUSTER_DNS: &str = "10.0.0.10";
/// The cluster's DNS domain.
pub const CLUSTER_DOMAIN: &str = "cluster.local";
/// A fixed name of the node's registry, whatever its port: containerd
/// pulls `registry.flux-testenv.test/<repository>:<tag>` from it, so that
/// manifests kept in Git (the demo's fleet, `flux install --registry`)
/// need no port. (`.test` is reserved for testing, RFC 2606.)
pub const REGISTRY_ALIAS: &str = "registry.flux-testenv.test";

const START_TIMEOUT: Duration = Duration::from_secs(120);
const CLEANUP: &str = include_str!("node_cleanup.sh");
const RECORD_DIR: &str = "/run/flux-testenv";
/// Kernel settings the node (and the kubelet, and kube-proxy) change; their
/// values are put back when the node goes.
const SYSCTLS: [&str; 9] = [
    "net/ipv4/ip_forward",
    "net/bridge/bridge-nf-call-iptables",
    "net/ipv4/conf/all/route_localnet",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
];

/// A running node; see the module docs. Stops and cleans up when dropped.
#[derive(Debug)]
pub struct Node {
    // Dropped first: its reaper stops the node before the registry goes.
    supervisor: Supervisor,
    registry: OciRegistry,
    images: BTreeMap<&'static str, PushedImage>,
    name: String,
    ip: String,
    started_in: Duration,
}

/// What the node needs from its control plane.
pub(crate) struct ControlPlaneAccess<'a> {
    pub(crate) config: &'a Config,
    pub(crate) kubeconfig: &'a Path,
    pub(crate) ca_file: &'a Path,
    pub(crate) host_ip: &'a str,
}

impl Node {
    /// Starts the node and waits until it is Ready and CoreDNS answers.
    pub(crate) fn start(cp: ControlPlaneAccess<'_>) -> Result<Self> {
        let begin = Instant::now();
        if !is_root() {
            return Err(Error::Start {
                component: "node".to_string(),
                reason: "the node needs root (cgroups, mounts, network namespaces, iptables)"
                    .to_string(),
                log_tail: String::new(),
            });
        }
        let binaries = [
            "kubelet",
            "kube-proxy",
            "kube-scheduler",
            "flux-testenv-pause",
            "flux-testenv-web",
            "coredns",
        ];
        for name in binaries {
            tool(name)?;
        }
        for path in [
            "/usr/bin/containerd",
            "/usr/sbin/runc",
            "/usr/lib/cni/bridge",
        ] {
            if !Path::new(path).exists() {
                return Err(Error::MissingBinary {
                    name: path.rsplit('/').next().unwrap_or(path).to_string(),
                    path: PathBuf::from(path),
                });
            }
        }
        let kube_proxy = tool("kube-proxy")?;
        // One node per machine: the reaper holds the lock until its cleanup
        // is done, so a node never starts while the last one is being
        // reaped; a node that was never reaped is reaped now.
        fs::create_dir_all(RECORD_DIR).map_err(io(format!("creating {RECORD_DIR}")))?;
        let mut supervisor =
            Supervisor::new_locked("node", &Path::new(RECORD_DIR).join("node.lock"))?;
        reap_unreaped(&kube_proxy)?;
        let dir = supervisor.dir().to_path_buf();

        let registry = OciRegistry::start()?;
        let images = push_node_images(&registry.host())?;

        let write = |path: &Path, text: &str| -> Result<()> {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
            }
            fs::write(path, text).map_err(io(format!("writing {}", path.display())))
        };
        // The cleanup first: from here on a failure leaves nothing behind.
        write(
            &dir.join("cleanup.sh"),
            &format!(
                "set -- {} {}\n{CLEANUP}",
                shell_quote(&dir.to_string_lossy()),
                shell_quote(&kube_proxy.to_string_lossy())
            ),
        )?;
        write(
            &Path::new(RECORD_DIR).join("node.dir"),
            &dir.to_string_lossy(),
        )?;
        save_and_set_sysctls(&dir)?;
        record_iptables_chains(&dir)?;
        create_cgroups()?;

        let name = format!("flux-testenv-{}", std::process::id());
        let registry_host = registry.host();
        let socket = dir.join("containerd.sock");

        // containerd, with the CRI plugin's CNI configuration rendered from
        // the node's pod CIDR once the kubelet learns it.
        let cni_template = json!({
            "cniVersion": "0.4.0",
            "name": "flux-testenv",
            "plugins": [{
                "type": "bridge",
                "bridge": "fluxtest0",
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "dataDir": dir.join("cni/ipam").to_string_lossy(),
                    "ranges": [[{"subnet": "{{.PodCIDR}}"}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            }],
        });
        write(&dir.join("cni/template.json"), &cni_template.to_string())?;
        fs::create_dir_all(dir.join("cni/net.d")).map_err(io("creating cni/net.d"))?;
        let containerd_config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  # Machines (like this project's VMs) may lack CAP_SYS_RESOURCE, without
  # which no process can lower its OOM score: the kubelet's negative
  # scores are raised to containerd's own.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{runc_root}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}/net.d"
    conf_template = "{cni}/template.json"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."{registry_host}"]
    endpoint = ["http://{registry_host}"]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."{REGISTRY_ALIAS}"]
    endpoint = ["http://{registry_host}"]
"#,
            root = dir.join("containerd/root").display(),
            state = dir.join("containerd/state").display(),
            socket = socket.display(),
            opt = dir.join("containerd/opt").display(),
            runc_root = dir.join("runc").display(),
            pause = images["pause"].reference,
            cni = dir.join("cni").display(),
        );
        write(&dir.join("containerd.toml"), &containerd_config)?;
        let mut containerd = Command::new("/usr/bin/containerd");
        containerd
            .arg("--config")
            .arg(dir.join("containerd.toml"))
            .arg("--log-level=warn");
        supervisor.spawn("containerd", containerd)?;
        supervisor.wait_until("containerd", START_TIMEOUT, |_| socket.exists())?;

        // The scheduler.
        let kubeconfig = cp.kubeconfig.display().to_string();
        let mut scheduler = Command::new(tool("kube-scheduler")?);
        scheduler
            .arg(format!("--kubeconfig={kubeconfig}"))
            .arg(format!("--authentication-kubeconfig={kubeconfig}"))
            .arg(format!("--authorization-kubeconfig={kubeconfig}"))
            .arg("--leader-elect=false")
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={}", free_port()?));
        supervisor.spawn("kube-scheduler", scheduler)?;

        // The kubelet.
        let kubelet_config = json!({
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": "/flux-testenv",
            "failCgroupV1": false,
            "failSwapOn": false,
            // Its own OOM score: a negative one needs CAP_SYS_RESOURCE.
            "oomScoreAdj": 0,
            "containerRuntimeEndpoint": format!("unix://{}", socket.display()),
            "address": cp.host_ip,
            "port": free_port()?,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": free_port()?,
            "authentication": {
                "anonymous": {"enabled": false},
                "webhook": {"enabled": false},
                "x509": {"clientCAFile": cp.ca_file.display().to_string()},
            },
            "authorization": {"mode": "AlwaysAllow"},
            "clusterDNS": [CLUSTER_DNS],
            "clusterDomain": CLUSTER_DOMAIN,
            "podLogsDir": dir.join("pod-logs").display().to_string(),
            "volumePluginDir": dir.join("volume-plugins").display().to_string(),
            "syncFrequency": "10s",
            "serializeImagePulls": false,
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            // The disk of a test machine is often fuller than the default
            // thresholds allow; eviction is not what the tests exercise.
            "evictionHard": {
                "memory.available": "50Mi",
                "nodefs.available": "1%",
                "nodefs.inodesFree": "1%",
                "imagefs.available": "1%",
            },
            "resolvConf": "",
        });
        write(&dir.join("kubelet.json"), &kubelet_config.to_string())?;
        let mut kubelet = Command::new(tool("kubelet")?);
        kubelet
            .arg(format!("--config={}", dir.join("kubelet.json").display()))
            .arg(format!("--kubeconfig={kubeconfig}"))
            .arg(format!("--root-dir={}", dir.join("kubelet").display()))
            .arg(format!("--cert-dir={}", dir.join("kubelet-pki").display()))
            .arg(format!("--hostname-override={name}"))
            .arg(format!("--node-ip={}", cp.host_ip))
            .arg("--v=1");
        supervisor.spawn("kubelet", kubelet)?;

        // kube-proxy, touching no conntrack setting of the host.
        let proxy_config = json!({
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "mode": "iptables",
            "clientConnection": {"kubeconfig": kubeconfig},
            "hostnameOverride": name,
            "clusterCIDR": CLUSTER_CIDR,
            "healthzBindAddress": format!("127.0.0.1:{}", free_port()?),
            "metricsBindAddress": format!("127.0.0.1:{}", free_port()?),
            "oomScoreAdj": 0,
            "iptables": {"syncPeriod": "30s", "minSyncPeriod": "0s"},
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
        });
        write(&dir.join("kube-proxy.json"), &proxy_config.to_string())?;
        let mut proxy = Command::new(&kube_proxy);
        proxy.arg(format!(
            "--config={}",
            dir.join("kube-proxy.json").display()
        ));
        supervisor.spawn("kube-proxy", proxy)?;

        // Ready: the Node reports Ready (its CNI configured from the pod
        // CIDR), then CoreDNS runs behind the kube-dns Service.
        let config = cp.config.clone();
        let node_name = name.clone();
        supervisor.wait_until("kubelet", START_TIMEOUT, |_| {
            matches!(
                block_on(node_ready(config.clone(), node_name.clone())),
                Ok(Ok(true))
            )
        })?;
        block_on(deploy_coredns(
            cp.config.clone(),
            images["coredns"].reference.clone(),
        ))??;
        let config = cp.config.clone();
        supervisor.wait_until("kubelet", START_TIMEOUT, |_| {
            matches!(block_on(coredns_available(config.clone())), Ok(Ok(true)))
        })?;

        Ok(Self {
            supervisor,
            registry,
            images,
            name,
            ip: cp.host_ip.to_string(),
            started_in: begin.elapsed(),
        })
    }

    /// The Node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's IP (the host's), where the kubelet listens and pods reach
    /// the API server.
    pub fn ip(&self) -> &str {
        &self.ip
    }

    /// The cluster's registry: images pushed here can be pulled by Pods as
    /// `<host>/<repository>:<tag>` (containerd pulls it over plain HTTP).
    pub fn registry(&self) -> &OciRegistry {
        &self.registry
    }

    /// The reference of a node image (`<registry host>/flux-testenv/NAME:1`;
    /// [`REGISTRY_ALIAS`] names the same registry): `pause`, `web` (the
    /// test application, see `tools/node-images/cmd/web`) or `coredns`.
    pub fn image(&self, name: &str) -> Option<&str> {
        self.images.get(name).map(|i| i.reference.as_str())
    }

    /// How long the start took, from nothing to CoreDNS serving.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The last `lines` lines of a component's log (`containerd`,
    /// `kubelet`, `kube-proxy`, `kube-scheduler`).
    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        self.supervisor.log_tail(component, lines)
    }

    /// The node's folder (containerd, kubelet and CNI state, logs).
    pub fn dir(&self) -> &Path {
        self.supervisor.dir()
    }
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u"))
        .map(|uid| uid.trim() == "0")
        .unwrap_or(false)
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Reaps a node whose record is still there (its test process and its
/// reaper both died, or the machine rebooted mid-cleanup). Called with the
/// machine lock held.
fn reap_unreaped(kube_proxy: &Path) -> Result<()> {
    let record = Path::new(RECORD_DIR).join("node.dir");
    if let Ok(stale) = fs::read_to_string(&record) {
        let stale = stale.trim();
        if !stale.is_empty() && Path::new(stale).is_dir() {
            let script = std::env::temp_dir().join(format!(
                "flux-testenv-node-cleanup-{}.sh",
                std::process::id()
            ));
            fs::write(&script, CLEANUP).map_err(io("writing the node cleanup script"))?;
            run(Command::new("sh").arg(&script).arg(stale).arg(kube_proxy))?;
            let _ = fs::remove_file(&script);
            run(Command::new("rm").args(["-rf", "--one-file-system", stale]))?;
        }
        let _ = fs::remove_file(&record);
    }
    Ok(())
}

fn save_and_set_sysctls(dir: &Path) -> Result<()> {
    let mut saved = String::new();
    for key in SYSCTLS {
        if let Ok(value) = fs::read_to_string(Path::new("/proc/sys").join(key)) {
            saved.push_str(&format!("{key} {}\n", value.trim()));
        }
    }
    fs::write(dir.join("sysctl.saved"), saved).map_err(io("saving kernel settings"))?;
    for (key, value) in [
        ("net/ipv4/ip_forward", "1"),
        ("net/bridge/bridge-nf-call-iptables", "1"),
    ] {
        let path = Path::new("/proc/sys").join(key);
        fs::write(&path, value).map_err(io(format!("setting {}", path.display())))?;
    }
    Ok(())
}

/// The `KUBE-*` chains that exist before the node starts (`iptables
/// TABLE CHAIN` lines): the cleanup removes only the others.
fn record_iptables_chains(dir: &Path) -> Result<()> {
    let mut out = String::new();
    for command in ["iptables", "ip6tables"] {
        let Ok(text) = run(&mut Command::new(format!("{command}-save"))) else {
            continue;
        };
        let mut table = "";
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t;
            } else if let Some(chain) = line.strip_prefix(':').and_then(|l| l.split(' ').next())
                && chain.starts_with("KUBE-")
            {
                out.push_str(&format!("{command} {table} {chain}\n"));
            }
        }
    }
    fs::write(dir.join("iptables.before"), out).map_err(io("recording the iptables chains"))
}

/// The kubelet's `cgroupRoot` must exist in every hierarchy; a cpuset child
/// starts without CPUs or memory nodes, so it gets its parent's.
fn create_cgroups() -> Result<()> {
    let root = Path::new("/sys/fs/cgroup");
    let entries = fs::read_dir(root).map_err(io("listing /sys/fs/cgroup"))?;
    for entry in entries.flatten() {
        let hierarchy = entry.path();
        if !hierarchy.is_dir() || fs::symlink_metadata(&hierarchy).is_ok_and(|m| m.is_symlink()) {
            continue;
        }
        let ours = hierarchy.join("flux-testenv");
        fs::create_dir_all(&ours).map_err(io(format!("creating {}", ours.display())))?;
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(value) = fs::read_to_string(hierarchy.join(file)) {
                fs::write(ours.join(file), value.trim())
                    .map_err(io(format!("writing {}", ours.join(file).display())))?;
            }
        }
    }
    Ok(())
}

async fn node_ready(config: Config, name: String) -> Result<bool> {
    let client = Client::try_from(config).map_err(kube_err("creating a client"))?;
    let nodes: Api<NodeObject> = Api::all(client);
    let Some(node) = nodes
        .get_opt(&name)
        .await
        .map_err(kube_err(format!("reading Node {name}")))?
    else {
        return Ok(false);
    };
    let ready = node
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    Ok(ready)
}

/// Server-side applies `objects` (kinds this module writes) as the test
/// environment.
pub(crate) async fn apply_all(client: &Client, objects: &[Value]) -> Result<()> {
    for object in objects {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let (plural, namespaced) = match kind {
            "ServiceAccount" => ("serviceaccounts", true),
            "ConfigMap" => ("configmaps", true),
            "Service" => ("services", true),
            "Deployment" => ("deployments", true),
            "ClusterRole" => ("clusterroles", false),
            "ClusterRoleBinding" => ("clusterrolebindings", false),
            other => {
                return Err(Error::Parse {
                    what: "a node manifest".to_string(),
                    reason: format!("unexpected kind {other}"),
                });
            }
        };
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let resource = ApiResource {
            group: group.to_string(),
            version: version.to_string(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
        };
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let api: Api<DynamicObject> = if namespaced {
            let namespace = object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default");
            Api::namespaced_with(client.clone(), namespace, &resource)
        } else {
            Api::all_with(client.clone(), &resource)
        };
        api.patch(
            name,
            &PatchParams::apply(crate::FIELD_MANAGER).force(),
            &Patch::Apply(object),
        )
        .await
        .map_err(kube_err(format!("applying {kind} {name}")))?;
    }
    Ok(())
}

/// CoreDNS as a cluster add-on, the shape kubeadm gives it: RBAC to read
/// Services and EndpointSlices, a Corefile serving `cluster.local`, one
/// replica, and the `kube-dns` Service at [`CLUSTER_DNS`]. It listens on
/// 1053 so that it needs no capability; the Service maps port 53 to it.
async fn deploy_coredns(config: Config, image: String) -> Result<()> {
    let client = Client::try_from(config).map_err(kube_err("creating a client"))?;
    let labels = json!({"k8s-app": "kube-dns"});
    let corefile = format!(
        ".:1053 {{\n    errors\n    health :8080\n    ready :8181\n    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{\n        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n        ttl 5\n    }}\n    cache 5\n    loop\n}}\n"
    );
    let objects = [
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "coredns", "namespace": "kube-system"}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "system:coredns"},
        "rules": [
            {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
        ]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "system:coredns"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
               "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}]}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "coredns", "namespace": "kube-system"},
               "data": {"Corefile": corefile}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": "coredns",
                    "dnsPolicy": "Default",
                    "priorityClassName": "system-cluster-critical",
                    "containers": [{
                        "name": "coredns",
                        "image": image,
                        "args": ["-conf", "/etc/coredns/Corefile"],
                        "ports": [
                            {"name": "dns", "containerPort": 1053, "protocol": "UDP"},
                            {"name": "dns-tcp", "containerPort": 1053, "protocol": "TCP"},
                        ],
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 1},
                        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": true,
                            "runAsNonRoot": true,
                        },
                        "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": true}],
                    }],
                    "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
                },
            },
        }}),
        json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
        "spec": {
            "clusterIP": CLUSTER_DNS,
            "selector": labels,
            "ports": [
                {"name": "dns", "port": 53, "targetPort": 1053, "protocol": "UDP"},
                {"name": "dns-tcp", "port": 53, "targetPort": 1053, "protocol": "TCP"},
            ],
        }}),
    ];
    apply_all(&client, &objects).await
}

async fn coredns_available(config: Config) -> Result<bool> {
    let client = Client::try_from(config).map_err(kube_err("creating a client"))?;
    let deployments: Api<Deployment> = Api::namespaced(client, "kube-system");
    let Some(deployment) = deployments
        .get_opt("coredns")
        .await
        .map_err(kube_err("reading Deployment kube-system/coredns"))?
    else {
        return Ok(false);
    };
    Ok(deployment
        .status
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
        >= 1)
}

/// The host's IPv4 address pods reach it by: the source address of its
/// default route, else its first global address.
pub fn host_ip() -> Result<String> {
    let from_route = run(Command::new("ip").args(["-4", "-o", "route", "get", "203.0.113.1"]))
        .ok()
        .and_then(|text| {
            let words: Vec<&str> = text.split_whitespace().collect();
            words
                .iter()
                .position(|w| *w == "src")
                .and_then(|i| words.get(i + 1))
                .map(|s| s.to_string())
        });
    if let Some(ip) = from_route.filter(|ip| !ip.starts_with("127.")) {
        return Ok(ip);
    }
    let text = run(Command::new("ip").args(["-4", "-o", "addr", "show", "scope", "global"]))?;
    text.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .map(str::to_string)
        .ok_or_else(|| Error::Start {
            component: "node".to_string(),
            reason: "this machine has no global IPv4 address for pods to reach it by".to_string(),
            log_tail: String::new(),
        })
}
