use std::path::PathBuf;

/// Everything that can go wrong while starting or driving the test environment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A binary the environment needs is not installed.
    #[error(
        "{name} not found at {path}: run scripts/install-deps.sh (or set FLUX_TESTENV_BIN_DIR)"
    )]
    MissingBinary {
        /// The binary's name.
        name: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A component did not start or did not become ready.
    #[error(
        "{component} failed to start: {reason}\n--- last lines of {component}'s log ---\n{log_tail}"
    )]
    Start {
        /// The component (etcd, kube-apiserver, sshd, ...).
        component: String,
        /// What went wrong.
        reason: String,
        /// The last lines the component wrote.
        log_tail: String,
    },
    /// A command run by a helper exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it wrote on stderr.
        stderr: String,
    },
    /// Generating certificates failed.
    #[error("generating test certificates: {0}")]
    Pki(#[from] rcgen::Error),
    /// A Kubernetes API call failed.
    #[error("{context}: {source}")]
    Kube {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// A kubeconfig could not be turned into a client configuration.
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// A manifest could not be parsed.
    #[error("parsing {what}: {reason}")]
    Parse {
        /// What was being parsed.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// Waiting for a condition took too long.
    #[error("timed out after {seconds}s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long it waited.
        seconds: u64,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

pub(crate) fn kube(context: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let context = context.into();
    move |source| Error::Kube { context, source }
}
