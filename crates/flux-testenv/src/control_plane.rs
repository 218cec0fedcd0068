//! A real Kubernetes control plane: etcd + kube-apiserver, and optionally
//! kube-controller-manager, on free loopback ports.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::error::{Error, Result, io, kube as kube_err};
use crate::node::{CLUSTER_CIDR, ControlPlaneAccess, Node, host_ip};
use crate::pki::{TestCa, signing_key_pem};
use crate::process::{Supervisor, free_port, port_open, tool};

/// How long a component may take to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Options for [`ControlPlane::start_with`].
#[derive(Clone, Debug, Default)]
pub struct ControlPlaneOptions {
    /// Also run kube-controller-manager: namespace deletion, garbage
    /// collection, default ServiceAccounts, workload controllers.
    pub controller_manager: bool,
    /// Extra `--flag=value` arguments for kube-apiserver.
    pub extra_apiserver_args: Vec<String>,
    /// Also run a node (implies the controller manager): Pods run, Services
    /// and cluster DNS work; see [`Node`]. Needs root.
    pub node: bool,
}

/// etcd + kube-apiserver (+ kube-controller-manager), with RBAC on.
///
/// The processes stop and the temporary folder is removed when the value is
/// dropped, and also when the test process dies without dropping it (see
/// the `process` module): a shared control plane from [`ControlPlane::shared`]
/// lives in a static and is cleaned up that way.
#[derive(Debug)]
pub struct ControlPlane {
    // Dropped first: the node stops before the API server it reports to.
    node: Option<Node>,
    supervisor: Supervisor,
    config: Config,
    kubeconfig: PathBuf,
    server: String,
    ca: TestCa,
    version: String,
    controller_manager: bool,
    started_in: Duration,
}

impl ControlPlane {
    /// The control plane shared by every test of this test binary (with
    /// kube-controller-manager), started on first use. Safe to call from
    /// any test, async or not.
    pub fn shared() -> Result<&'static ControlPlane, &'static Error> {
        static SHARED: OnceLock<Result<ControlPlane>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                ControlPlane::start_with(ControlPlaneOptions {
                    controller_manager: true,
                    ..ControlPlaneOptions::default()
                })
            })
            .as_ref()
    }

    /// The control plane with a node, shared by every test of this test
    /// binary that asks for it, started on first use (see [`Node`]).
    pub fn shared_with_node() -> Result<&'static ControlPlane, &'static Error> {
        static SHARED: OnceLock<Result<ControlPlane>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                ControlPlane::start_with(ControlPlaneOptions {
                    controller_manager: true,
                    node: true,
                    ..ControlPlaneOptions::default()
                })
            })
            .as_ref()
    }

    /// Starts etcd and kube-apiserver without kube-controller-manager.
    pub fn start() -> Result<Self> {
        Self::start_with(ControlPlaneOptions::default())
    }

    /// Starts a control plane; blocks until `/readyz` answers `ok` (and,
    /// with the controller manager, until it has created the `default`
    /// ServiceAccount). Callable from inside or outside a Tokio runtime.
    pub fn start_with(options: ControlPlaneOptions) -> Result<Self> {
        let begin = Instant::now();
        let controller_manager = options.controller_manager || options.node;
        // With a node, Pods reach the API server at the host's address (the
        // `kubernetes` Service's endpoint), and it reaches the kubelet there.
        let host_ip = if options.node { Some(host_ip()?) } else { None };
        let mut supervisor = Supervisor::new("control-plane")?;
        let dir = supervisor.dir().to_path_buf();
        let write = |name: &str, text: &str| -> Result<PathBuf> {
            let path = dir.join(name);
            fs::write(&path, text).map_err(io(format!("writing {}", path.display())))?;
            Ok(path)
        };

        // Certificates: a CA, the apiserver's serving certificate, an admin
        // client certificate (group system:masters), a ServiceAccount key.
        let ca = TestCa::new("flux-testenv-ca")?;
        let mut names = vec![
            "127.0.0.1",
            "localhost",
            "10.0.0.1",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ];
        names.extend(host_ip.as_deref());
        let serving = ca.server_cert("kube-apiserver", &names)?;
        let admin = ca.client_cert("admin", &["system:masters"])?;
        let ca_file = write("ca.crt", &ca.cert_pem())?;
        let serving_cert = write("apiserver.crt", &serving.cert_pem)?;
        let serving_key = write("apiserver.key", &serving.key_pem)?;
        let admin_cert = write("admin.crt", &admin.cert_pem)?;
        let admin_key = write("admin.key", &admin.key_pem)?;
        let (sa_private, sa_public) = signing_key_pem()?;
        let sa_key = write("sa.key", &sa_private)?;
        let sa_pub = write("sa.pub", &sa_public)?;

        // etcd.
        let etcd_port = free_port()?;
        let peer_port = free_port()?;
        let etcd_bin = etcd_bin_vendored::etcd_bin_path().map_err(|e| Error::MissingBinary {
            name: format!("etcd ({e:?})"),
            path: PathBuf::new(),
        })?;
        let client_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let mut etcd = Command::new(etcd_bin);
        etcd.arg("--name=default")
            .arg(format!("--data-dir={}", dir.join("etcd").display()))
            .arg("--unsafe-no-fsync")
            .arg("--log-level=warn")
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=default={peer_url}"));
        supervisor.spawn("etcd", etcd)?;
        supervisor.wait_until("etcd", START_TIMEOUT, |_| port_open(etcd_port))?;

        // kube-apiserver.
        let port = free_port()?;
        let server = format!("https://127.0.0.1:{port}");
        let mut apiserver = Command::new(tool("kube-apiserver")?);
        apiserver
            .arg(format!("--etcd-servers={client_url}"))
            .arg(format!("--secure-port={port}"))
            .arg(format!("--tls-cert-file={}", serving_cert.display()))
            .arg(format!("--tls-private-key-file={}", serving_key.display()))
            .arg(format!("--cert-dir={}", dir.join("certs").display()))
            .arg(format!("--client-ca-file={}", ca_file.display()))
            .arg("--authorization-mode=RBAC")
            .arg("--service-cluster-ip-range=10.0.0.0/24")
            .arg("--allow-privileged=true")
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .arg(format!("--service-account-key-file={}", sa_pub.display()))
            .arg(format!(
                "--service-account-signing-key-file={}",
                sa_key.display()
            ))
            // `kubectl logs` and `exec` go through the kubelet, which
            // trusts the test CA.
            .arg(format!(
                "--kubelet-client-certificate={}",
                admin_cert.display()
            ))
            .arg(format!("--kubelet-client-key={}", admin_key.display()))
            .arg("--shutdown-delay-duration=0s")
            .arg("--profiling=false");
        match &host_ip {
            Some(ip) => {
                apiserver
                    .arg("--bind-address=0.0.0.0")
                    .arg(format!("--advertise-address={ip}"))
                    // The node's name resolves nowhere; its address does.
                    .arg("--kubelet-preferred-address-types=InternalIP");
            }
            None => {
                // Loopback only; the `kubernetes` Endpoints object rejects
                // loopback addresses.
                apiserver
                    .arg("--bind-address=127.0.0.1")
                    .arg("--advertise-address=127.0.0.1")
                    .arg("--endpoint-reconciler-type=none");
            }
        }
        if !controller_manager {
            // Pods would wait for a `default` ServiceAccount nobody creates.
            apiserver.arg("--disable-admission-plugins=ServiceAccount");
        }
        apiserver.args(&options.extra_apiserver_args);
        supervisor.spawn("kube-apiserver", apiserver)?;

        let kubeconfig = write(
            "admin.kubeconfig",
            &kubeconfig_yaml(&server, &ca_file, &admin_cert, &admin_key),
        )?;
        let config = block_on({
            let path = kubeconfig.clone();
            async move {
                let file = Kubeconfig::read_from(&path)?;
                Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await
            }
        })??;

        let mut version = String::new();
        supervisor.wait_until("kube-apiserver", START_TIMEOUT, |_| {
            match block_on(readyz_and_version(config.clone())) {
                Ok(Ok(Some(v))) => {
                    version = v;
                    true
                }
                _ => false,
            }
        })?;

        if controller_manager {
            let mut kcm = Command::new(tool("kube-controller-manager")?);
            kcm.arg(format!("--kubeconfig={}", kubeconfig.display()))
                .arg(format!(
                    "--authentication-kubeconfig={}",
                    kubeconfig.display()
                ))
                .arg(format!(
                    "--authorization-kubeconfig={}",
                    kubeconfig.display()
                ))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--secure-port={}", free_port()?))
                .arg("--leader-elect=false")
                .arg(format!(
                    "--service-account-private-key-file={}",
                    sa_key.display()
                ))
                .arg(format!("--root-ca-file={}", ca_file.display()))
                .arg("--use-service-account-credentials=false")
                .arg("--controllers=*,-bootstrapsigner,-tokencleaner,-csrsigning");
            if options.node {
                kcm.arg("--allocate-node-cidrs=true")
                    .arg(format!("--cluster-cidr={CLUSTER_CIDR}"))
                    .arg("--node-cidr-mask-size=24")
                    .arg("--service-cluster-ip-range=10.0.0.0/24");
            }
            supervisor.spawn("kube-controller-manager", kcm)?;
            // Ready once its ServiceAccount controller has done its first pass.
            supervisor.wait_until("kube-controller-manager", START_TIMEOUT, |_| {
                matches!(
                    block_on(default_service_account_exists(config.clone())),
                    Ok(Ok(true))
                )
            })?;
        }

        let node = match &host_ip {
            Some(ip) => Some(Node::start(ControlPlaneAccess {
                config: &config,
                kubeconfig: &kubeconfig,
                ca_file: &ca_file,
                host_ip: ip,
            })?),
            None => None,
        };

        Ok(Self {
            node,
            supervisor,
            config,
            kubeconfig,
            server,
            ca,
            version,
            controller_manager,
            started_in: begin.elapsed(),
        })
    }

    /// A client authenticated as a cluster admin (group `system:masters`).
    /// Call it inside the Tokio runtime that will use the client.
    pub fn client(&self) -> Result<Client> {
        Client::try_from(self.config.clone()).map_err(kube_err("creating an admin client"))
    }

    /// A client that impersonates ServiceAccount `namespace/name` (with the
    /// groups the API server gives ServiceAccounts), the way Flux acts as a
    /// tenant's ServiceAccount. It has only the rights RBAC grants that
    /// ServiceAccount.
    pub fn client_as_service_account(&self, namespace: &str, name: &str) -> Result<Client> {
        self.client_as_user(
            &format!("system:serviceaccount:{namespace}:{name}"),
            &[
                "system:serviceaccounts",
                &format!("system:serviceaccounts:{namespace}"),
                "system:authenticated",
            ],
        )
    }

    /// A client that impersonates `user` in `groups`.
    pub fn client_as_user(&self, user: &str, groups: &[&str]) -> Result<Client> {
        let mut config = self.config.clone();
        config.auth_info.impersonate = Some(user.to_string());
        config.auth_info.impersonate_groups = Some(groups.iter().map(|g| g.to_string()).collect());
        Client::try_from(config).map_err(kube_err("creating an impersonating client"))
    }

    /// The admin client configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The admin kubeconfig with its certificates and key embedded
    /// (`*-data`), as a kubeconfig stored in a Secret carries them.
    pub fn kubeconfig_embedded(&self) -> Result<String> {
        use base64::Engine as _;
        let text = std::fs::read_to_string(&self.kubeconfig)
            .map_err(io(format!("reading {}", self.kubeconfig.display())))?;
        let mut out = String::new();
        for line in text.lines() {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            let embedded = ["certificate-authority", "client-certificate", "client-key"]
                .iter()
                .find_map(|field| {
                    let path = trimmed.strip_prefix(&format!("{field}: "))?;
                    Some((field, path))
                });
            match embedded {
                Some((field, path)) => {
                    let bytes = std::fs::read(path).map_err(io(format!("reading {path}")))?;
                    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                    out.push_str(&format!("{indent}{field}-data: {data}\n"));
                }
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        Ok(out)
    }

    /// A kubeconfig file for the admin user, for CLI tests (`--kubeconfig`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The API server's URL, `https://127.0.0.1:PORT`.
    pub fn server_url(&self) -> &str {
        &self.server
    }

    /// The CA that signed the API server's and the admin's certificates; it
    /// can issue certificates for other test servers.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// The `gitVersion` the API server reports on `/version`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The node, when the control plane was started with one.
    pub fn node(&self) -> Option<&Node> {
        self.node.as_ref()
    }

    /// Whether kube-controller-manager runs.
    pub fn has_controller_manager(&self) -> bool {
        self.controller_manager
    }

    /// How long the start took, until ready.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The last `lines` lines of a component's log (`etcd`,
    /// `kube-apiserver`, `kube-controller-manager`), for diagnosing a test.
    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        self.supervisor.log_tail(component, lines)
    }
}

fn kubeconfig_yaml(server: &str, ca: &Path, cert: &Path, key: &Path) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: flux-testenv
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: admin
  user:
    client-certificate: {cert}
    client-key: {key}
contexts:
- name: flux-testenv
  context:
    cluster: flux-testenv
    user: admin
    namespace: default
current-context: flux-testenv
",
        ca = ca.display(),
        cert = cert.display(),
        key = key.display(),
    )
}

/// `Some(gitVersion)` once `/readyz` says `ok`.
async fn readyz_and_version(config: Config) -> Result<Option<String>> {
    let client = Client::try_from(config).map_err(kube_err("creating a client"))?;
    let readyz = http::Request::get("/readyz")
        .body(Vec::new())
        .map_err(|e| Error::Parse {
            what: "the /readyz request".to_string(),
            reason: e.to_string(),
        })?;
    let ok = client
        .request_text(readyz)
        .await
        .map(|text| text.trim() == "ok")
        .unwrap_or(false);
    if !ok {
        return Ok(None);
    }
    let info = client
        .apiserver_version()
        .await
        .map_err(kube_err("reading /version"))?;
    Ok(Some(info.git_version))
}

async fn default_service_account_exists(config: Config) -> Result<bool> {
    let client = Client::try_from(config).map_err(kube_err("creating a client"))?;
    let accounts: Api<ServiceAccount> = Api::namespaced(client, "default");
    Ok(accounts
        .get_opt("default")
        .await
        .map_err(kube_err("reading ServiceAccount default/default"))?
        .is_some())
}

/// Runs `future` to completion on a fresh single-threaded runtime in its own
/// thread, so that sync code (constructors, `Drop`) can call async APIs even
/// from inside a test's runtime.
pub(crate) fn block_on<F>(future: F) -> Result<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|runtime| runtime.block_on(future))
    })
    .join()
    .map_err(|_| Error::Io {
        context: "helper thread".to_string(),
        source: std::io::Error::other("panicked"),
    })?
    .map_err(io("starting a Tokio runtime"))
}
