//! The command tree and flags, as upstream's `flux` spells them. Command
//! code lives in `commands/`; this module only describes the interface.

use clap::{Args, Parser, Subcommand};

/// Command line utility for assembling Kubernetes CD pipelines the GitOps way.
#[derive(Debug, Parser)]
#[command(name = "flux", version = crate::VERSION, disable_version_flag = true)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Root flags (kubectl's connection flags, namespace, timeout).
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Path to the kubeconfig file to use for CLI requests.
    #[arg(long, global = true, env = "KUBECONFIG")]
    pub kubeconfig: Option<String>,
    /// The name of the kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The namespace scope for this operation.
    #[arg(
        short = 'n',
        long,
        global = true,
        env = "FLUX_SYSTEM_NAMESPACE",
        default_value = "flux-system"
    )]
    pub namespace: String,
    /// Timeout for this operation.
    #[arg(long, global = true, default_value = "5m0s")]
    pub timeout: String,
    /// Print generated objects.
    #[arg(long, global = true, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub verbose: bool,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the client and server-side components version information.
    Version(VersionArgs),
    /// Check requirements and installation.
    Check(CheckArgs),
    /// Install or upgrade Flux.
    Install(InstallArgs),
    /// Uninstall Flux and its custom resource definitions.
    Uninstall(UninstallArgs),
    /// Deploy Flux on a cluster the GitOps way.
    #[command(subcommand)]
    Bootstrap(BootstrapCommand),
    /// Create or update sources and resources.
    #[command(subcommand)]
    Create(CreateCommand),
    /// Get the resources and their status.
    Get(GetArgs),
    /// Reconcile sources and resources.
    #[command(subcommand)]
    Reconcile(ReconcileCommand),
    /// Suspend resources.
    Suspend(SuspendArgs),
    /// Resume suspended resources.
    Resume(SuspendArgs),
    /// Delete sources and resources.
    Delete(DeleteArgs),
    /// Export resources in YAML format.
    Export(ExportArgs),
    /// Print the resources reconciled by Flux.
    #[command(subcommand)]
    Tree(TreeCommand),
    /// Display Kubernetes events for Flux resources.
    Events(EventsArgs),
    /// Trigger Flux resources from outside the cluster.
    #[command(subcommand)]
    Trigger(TriggerCommand),
    /// Display formatted logs for Flux components.
    Logs(LogsArgs),
    /// Generates completion scripts for various shells.
    Completion(CompletionArgs),
    /// Trace an in-cluster object throughout the GitOps delivery pipeline.
    Trace(TraceArgs),
    /// Build a flux resource.
    #[command(subcommand)]
    Build(BuildCommand),
    /// Diff a flux resource.
    #[command(subcommand)]
    Diff(DiffCommand),
    /// Push artifacts to an OCI registry.
    #[command(subcommand)]
    Push(PushCommand),
    /// Pull artifacts from an OCI registry.
    #[command(subcommand)]
    Pull(PullCommand),
    /// Tag artifacts in an OCI registry.
    #[command(subcommand)]
    Tag(TagCommand),
    /// List artifacts of an OCI repository.
    #[command(subcommand)]
    List(ListCommand),
}

/// Registry flags every artifact command takes.
#[derive(Debug, Args, Clone)]
pub struct RegistryArgs {
    /// Credentials for OCI registry in the format <username>[:<password>] if --provider is generic.
    #[arg(long, default_value = "")]
    pub creds: String,
    /// The OCI provider name, available options are: (generic, aws, azure, gcp).
    #[arg(long, default_value = "generic")]
    pub provider: String,
    /// Allows the registry to be reached without TLS.
    #[arg(long = "insecure-registry", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub insecure: bool,
}

/// `flux push …`.
#[derive(Debug, Subcommand)]
pub enum PushCommand {
    /// Push a local folder or file as an OCI artifact.
    Artifact(PushArtifactArgs),
}

/// `flux push artifact oci://REPO:TAG`.
#[derive(Debug, Args)]
pub struct PushArtifactArgs {
    /// The artifact URL (`oci://<domain>/<org>/<repo>:<tag>`).
    pub url: Option<String>,
    /// Path to the directory where the Kubernetes manifests are located.
    #[arg(short = 'f', long, default_value = "")]
    pub path: String,
    /// The source address, e.g. the Git URL.
    #[arg(long, default_value = "")]
    pub source: String,
    /// The source revision in the format '<branch|tag>@sha1:<commit-sha>'.
    #[arg(long, default_value = "")]
    pub revision: String,
    /// Set custom OCI annotations in the format '<key>=<value>'.
    #[arg(short = 'a', long = "annotations")]
    pub annotations: Vec<String>,
    /// Set paths to ignore in .gitignore format.
    #[arg(long = "ignore-paths", value_delimiter = ',')]
    pub ignore_paths: Option<Vec<String>>,
    /// The format in which the artifact digest should be printed, can be 'json' or 'yaml'.
    #[arg(short = 'o', long, default_value = "")]
    pub output: String,
    /// Ensure reproducible image digests by setting the created timestamp to '1970-01-01T00:00:00Z'.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub reproducible: bool,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `flux pull …`.
#[derive(Debug, Subcommand)]
pub enum PullCommand {
    /// Pull an OCI artifact and extract its content.
    Artifact(PullArtifactArgs),
}

/// `flux pull artifact oci://REPO:TAG --output DIR`.
#[derive(Debug, Args)]
pub struct PullArtifactArgs {
    /// The artifact URL.
    pub url: Option<String>,
    /// Path where the artifact content should be extracted.
    #[arg(short = 'o', long, default_value = "")]
    pub output: String,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `flux tag …`.
#[derive(Debug, Subcommand)]
pub enum TagCommand {
    /// Tag an OCI artifact.
    Artifact(TagArtifactArgs),
}

/// `flux tag artifact oci://REPO:TAG --tag T`.
#[derive(Debug, Args)]
pub struct TagArtifactArgs {
    /// The artifact URL.
    pub url: Option<String>,
    /// Tag name.
    #[arg(long = "tag", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `flux list …`.
#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// List the artifacts of an OCI repository.
    Artifacts(ListArtifactsArgs),
}

/// `flux list artifacts oci://REPO`.
#[derive(Debug, Args)]
pub struct ListArtifactsArgs {
    /// The repository URL.
    pub url: Option<String>,
    /// Filter tags returned from the oci repository using semver.
    #[arg(long = "filter-semver", default_value = "")]
    pub semver_filter: String,
    /// Filter tags returned from the oci repository using regex.
    #[arg(long = "filter-regex", default_value = "")]
    pub regex_filter: String,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `flux build artifact`.
#[derive(Debug, Args)]
pub struct BuildArtifactArgs {
    /// Path to the directory where the Kubernetes manifests are located.
    #[arg(short = 'p', long, default_value = "")]
    pub path: String,
    /// Path to where the artifact tgz file should be written.
    #[arg(short = 'o', long, default_value = "artifact.tgz")]
    pub output: String,
    /// Set paths to ignore in .gitignore format.
    #[arg(long = "ignore-paths", value_delimiter = ',')]
    pub ignore_paths: Option<Vec<String>>,
}

/// `flux diff artifact oci://REPO:TAG --path DIR`.
#[derive(Debug, Args)]
pub struct DiffArtifactArgs {
    /// The artifact URL.
    pub url: Option<String>,
    /// Path to the directory where the Kubernetes manifests are located.
    #[arg(long, default_value = "")]
    pub path: String,
    /// Set paths to ignore in .gitignore format.
    #[arg(long = "ignore-paths", value_delimiter = ',')]
    pub ignore_paths: Option<Vec<String>>,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `flux logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Log level (debug, info, error).
    #[arg(long)]
    pub level: Option<String>,
    /// Displays errors of a particular toolkit kind e.g GitRepository.
    #[arg(long)]
    pub kind: Option<String>,
    /// Specifies the name of the object logs to be displayed.
    #[arg(long)]
    pub name: Option<String>,
    /// Specifies if the logs should be streamed.
    #[arg(short = 'f', long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub follow: bool,
    /// Lines of recent log file to display.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tail: i64,
    /// The namespace where the Flux components are running.
    #[arg(long = "flux-namespace", default_value = "flux-system")]
    pub flux_namespace: String,
    /// Displays logs for objects across all namespaces.
    #[arg(short = 'A', long = "all-namespaces", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub all_namespaces: bool,
    /// Only return logs newer than a relative duration like 5s, 2m, or 3h.
    #[arg(long)]
    pub since: Option<String>,
    /// Only return logs after a specific date (RFC3339).
    #[arg(long = "since-time")]
    pub since_time: Option<String>,
}

/// `flux completion SHELL`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// bash, zsh, fish or powershell.
    pub shell: clap_complete::Shell,
}

/// `flux trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The object's name.
    pub name: String,
    /// The Kubernetes object kind, e.g. Deployment.
    #[arg(long)]
    pub kind: String,
    /// The Kubernetes object API version, e.g. 'apps/v1'.
    #[arg(long = "api-version")]
    pub api_version: String,
}

/// `flux build …`.
#[derive(Debug, Subcommand)]
pub enum BuildCommand {
    /// Build a Kustomization's local folder.
    #[command(alias = "ks")]
    Kustomization(BuildKustomizationArgs),
    /// Render a Helm chart offline, exactly as `helm template NAME CHART` prints it.
    Helm(BuildHelmArgs),
    /// Render a HelmRelease's chart as the helm controller would: its release name, values, post-renderers and commonMetadata.
    #[command(alias = "hr")]
    Helmrelease(BuildHelmReleaseArgs),
    /// Build a tarball from a folder, as `flux push artifact` would push it.
    Artifact(BuildArtifactArgs),
}

/// `flux diff …`.
#[derive(Debug, Subcommand)]
pub enum DiffCommand {
    /// Diff a Kustomization's local folder against the cluster.
    #[command(alias = "ks")]
    Kustomization(BuildKustomizationArgs),
    /// Diff a local folder against an OCI artifact.
    Artifact(DiffArtifactArgs),
    /// Show how the cluster drifted from a HelmRelease's deployed release.
    #[command(alias = "hr")]
    Helmrelease(DiffHelmReleaseArgs),
}

/// `flux build helmrelease NAME --chart PATH`.
#[derive(Debug, Args)]
pub struct BuildHelmReleaseArgs {
    /// The HelmRelease's name.
    pub name: String,
    /// Path to the chart folder or `.tgz` archive its source provides.
    #[arg(long)]
    pub chart: String,
    /// Path to a YAML file holding the HelmRelease (instead of the cluster's object); ConfigMaps and Secrets in it serve `valuesFrom`.
    #[arg(long = "helmrelease-file")]
    pub helmrelease_file: Option<String>,
    /// YAML files with ConfigMaps and Secrets that serve `valuesFrom` (before the cluster).
    #[arg(long = "values-from-file")]
    pub values_from_file: Vec<String>,
    /// Dry run mode: no cluster access (needs --helmrelease-file; valuesFrom only from files).
    #[arg(long = "dry-run", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub dry_run: bool,
    /// Kubernetes version for .Capabilities.KubeVersion.
    #[arg(long = "kube-version")]
    pub kube_version: Option<String>,
    /// Extra API versions for .Capabilities.APIVersions.
    #[arg(short = 'a', long = "api-versions", value_delimiter = ',')]
    pub api_versions: Vec<String>,
}

/// `flux diff helmrelease NAME`.
#[derive(Debug, Args)]
pub struct DiffHelmReleaseArgs {
    /// The HelmRelease's name.
    pub name: String,
}

/// `flux build helm NAME CHART` (the flags of `helm template`; the release
/// namespace is the global `-n/--namespace`).
#[derive(Debug, Args)]
pub struct BuildHelmArgs {
    /// The release name.
    pub name: String,
    /// Path to the chart folder or `.tgz` archive.
    pub chart: String,
    /// Values files (later files win).
    #[arg(short = 'f', long = "values")]
    pub values: Vec<String>,
    /// Set values (key1=val1,key2=val2).
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// Set string values.
    #[arg(long = "set-string")]
    pub set_string: Vec<String>,
    /// Set JSON values.
    #[arg(long = "set-json")]
    pub set_json: Vec<String>,
    /// Set values from files (key=path).
    #[arg(long = "set-file")]
    pub set_file: Vec<String>,
    /// Set a literal string value (key=everything after the first `=`).
    #[arg(long = "set-literal")]
    pub set_literal: Vec<String>,
    /// Include the chart's CRDs in the output.
    #[arg(long = "include-crds", default_value_t = false)]
    pub include_crds: bool,
    /// Leave test hooks out.
    #[arg(long = "skip-tests", default_value_t = false)]
    pub skip_tests: bool,
    /// Leave all hooks out.
    #[arg(long = "no-hooks", default_value_t = false)]
    pub no_hooks: bool,
    /// Set .Release.IsUpgrade instead of .Release.IsInstall.
    #[arg(long = "is-upgrade", default_value_t = false)]
    pub is_upgrade: bool,
    /// Kubernetes version for .Capabilities.KubeVersion.
    #[arg(long = "kube-version")]
    pub kube_version: Option<String>,
    /// Extra API versions for .Capabilities.APIVersions.
    #[arg(short = 'a', long = "api-versions", value_delimiter = ',')]
    pub api_versions: Vec<String>,
    /// Only show manifests rendered from these templates.
    #[arg(short = 's', long = "show-only")]
    pub show_only: Vec<String>,
    /// Do not validate values against values.schema.json.
    #[arg(long = "skip-schema-validation", default_value_t = false)]
    pub skip_schema_validation: bool,
}

/// `flux build|diff kustomization`.
#[derive(Debug, Args)]
pub struct BuildKustomizationArgs {
    /// The Kustomization's name.
    pub name: String,
    /// Path to the manifests location.
    #[arg(long)]
    pub path: String,
    /// Path to the Flux Kustomization YAML file (instead of the cluster's object).
    #[arg(long = "kustomization-file")]
    pub kustomization_file: Option<String>,
    /// Dry run mode: no cluster access (needs --kustomization-file; substituteFrom is skipped).
    #[arg(long = "dry-run", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub dry_run: bool,
}

/// `flux version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Print only the client version.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub client: bool,
    /// The format in which to print the version information (yaml, json).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// `flux check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only run pre-installation checks.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub pre: bool,
    /// List of components, accepts comma-separated values.
    #[arg(long, value_delimiter = ',', default_value = crate::install::DEFAULT_COMPONENTS)]
    pub components: Vec<String>,
    /// List of components in addition to those supplied or defaulted, accepts comma-separated values.
    #[arg(long = "components-extra", value_delimiter = ',')]
    pub components_extra: Vec<String>,
}

/// Options shared by `install` and `bootstrap`.
#[derive(Debug, Args, Clone)]
pub struct InstallOptions {
    /// List of components to install, accepts comma-separated values.
    #[arg(long, value_delimiter = ',', default_value = crate::install::DEFAULT_COMPONENTS)]
    pub components: Vec<String>,
    /// List of components in addition to those supplied or defaulted, accepts comma-separated values.
    #[arg(long = "components-extra", value_delimiter = ',')]
    pub components_extra: Vec<String>,
    /// Container registry where the fluxd image is published.
    #[arg(long, default_value = crate::install::DEFAULT_REGISTRY)]
    pub registry: String,
    /// Kubernetes secret name used for pulling the controller images from a private registry.
    #[arg(long = "image-pull-secret", default_value = "")]
    pub image_pull_secret: String,
    /// Watch for custom resources in all namespaces; if set to false it will only watch the namespace where Flux is installed.
    #[arg(long = "watch-all-namespaces", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub watch_all_namespaces: bool,
    /// Log level (debug, info, error).
    #[arg(long = "log-level", default_value = "info")]
    pub log_level: String,
    /// Deny ingress access to the toolkit controllers from other namespaces using network policies.
    #[arg(long = "network-policy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub network_policy: bool,
    /// Internal cluster domain.
    #[arg(long = "cluster-domain", default_value = "cluster.local")]
    pub cluster_domain: String,
    /// List of toleration keys used to schedule the components pods onto nodes with matching taints.
    #[arg(long = "toleration-keys", value_delimiter = ',')]
    pub toleration_keys: Vec<String>,
    /// One Deployment running every controller in one fluxd process, instead of one per controller.
    #[arg(long = "all-in-one", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub all_in_one: bool,
}

/// `flux install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Component options.
    #[command(flatten)]
    pub options: InstallOptions,
    /// Write the install manifests to stdout and exit.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub export: bool,
}

/// `flux uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Skip the namespace deletion.
    #[arg(long = "keep-namespace", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub keep_namespace: bool,
    /// Only print the objects that would be deleted.
    #[arg(long = "dry-run", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub dry_run: bool,
    /// Delete components without asking for confirmation.
    #[arg(short = 's', long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub silent: bool,
}

/// `flux bootstrap …`.
#[derive(Debug, Subcommand)]
pub enum BootstrapCommand {
    /// Deploy Flux on a cluster connected to a Git repository.
    Git(BootstrapGitArgs),
}

/// `flux bootstrap git`.
#[derive(Debug, Args)]
pub struct BootstrapGitArgs {
    /// Git repository URL.
    #[arg(long)]
    pub url: String,
    /// Git branch.
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// Path relative to the repository root, when specified the cluster sync will be scoped to this path.
    #[arg(long, default_value = "")]
    pub path: String,
    /// Basic authentication username.
    #[arg(short = 'u', long, default_value = "git")]
    pub username: String,
    /// Basic authentication password.
    #[arg(short = 'p', long, env = "GIT_PASSWORD")]
    pub password: Option<String>,
    /// Use the password as a bearer token (Authorization header) instead of basic auth.
    #[arg(long = "with-bearer-token", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub with_bearer_token: bool,
    /// Path to a private key file used for authenticating to the Git SSH server.
    #[arg(long = "private-key-file")]
    pub private_key_file: Option<String>,
    /// Passphrase of the private key.
    #[arg(long = "ssh-key-passphrase", env = "FLUX_SSH_KEY_PASSPHRASE")]
    pub ssh_key_passphrase: Option<String>,
    /// Allow plain-HTTP Git URLs (credentials travel in the clear).
    #[arg(long = "allow-insecure-http", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub allow_insecure_http: bool,
    /// Name of the secret the sync credentials can be found in or stored to.
    #[arg(long = "secret-name", default_value = "flux-system")]
    pub secret_name: String,
    /// Sync interval.
    #[arg(long, default_value = "1m0s")]
    pub interval: String,
    /// Author name for Git commits.
    #[arg(long = "author-name", default_value = "Flux")]
    pub author_name: String,
    /// Author email for Git commits.
    #[arg(long = "author-email", default_value = "")]
    pub author_email: String,
    /// String to add to the commit messages, e.g. '[ci skip]'.
    #[arg(long = "commit-message-appendix", default_value = "")]
    pub commit_message_appendix: String,
    /// Install options.
    #[command(flatten)]
    pub options: InstallOptions,
    /// Skip confirmation prompts.
    #[arg(short = 's', long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub silent: bool,
}

/// `flux create …`.
#[derive(Debug, Subcommand)]
pub enum CreateCommand {
    /// Create or update sources.
    #[command(subcommand)]
    Source(CreateSourceCommand),
    /// Create or update a Kustomization resource.
    #[command(alias = "ks")]
    Kustomization(CreateKustomizationArgs),
    /// Create or update a HelmRelease resource.
    #[command(alias = "hr")]
    Helmrelease(CreateHelmReleaseArgs),
    /// Create or update Kubernetes secrets.
    #[command(subcommand)]
    Secret(CreateSecretCommand),
    /// Create or update a Provider resource.
    #[command(name = "alert-provider")]
    AlertProvider(CreateAlertProviderArgs),
    /// Create or update a Alert resource.
    Alert(CreateAlertArgs),
    /// Create or update a Receiver resource.
    Receiver(CreateReceiverArgs),
    /// Create or update resources dealing with image automation.
    #[command(subcommand)]
    Image(CreateImageCommand),
}

/// `flux create image …`.
#[derive(Debug, Subcommand)]
pub enum CreateImageCommand {
    /// Create or update an ImageRepository object.
    Repository(CreateImageRepositoryArgs),
    /// Create or update an ImagePolicy object.
    Policy(CreateImagePolicyArgs),
    /// Create or update an ImageUpdateAutomation object.
    Update(CreateImageUpdateArgs),
}

/// `flux create image repository`.
#[derive(Debug, Args)]
pub struct CreateImageRepositoryArgs {
    /// The object's name.
    pub name: String,
    /// Common flags.
    #[command(flatten)]
    pub common: CreateCommon,
    /// The image repository to scan; e.g., library/alpine.
    #[arg(long, default_value = "")]
    pub image: String,
    /// The name of a docker-registry secret to use for credentials.
    #[arg(long = "secret-ref", default_value = "")]
    pub secret_ref: String,
    /// The name of a secret to use for TLS certificates.
    #[arg(long = "cert-ref", default_value = "")]
    pub cert_ref: String,
    /// A timeout for scanning; this defaults to the interval if not set.
    #[arg(long = "scan-timeout")]
    pub scan_timeout: Option<String>,
}

/// `flux create image policy` (its `--interval` is its own: the digest
/// reflection interval).
#[derive(Debug, Args)]
pub struct CreateImagePolicyArgs {
    /// The object's name.
    pub name: String,
    /// Export in YAML format to stdout.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub export: bool,
    /// Set labels on the resource (can specify multiple labels with commas: label1=value1,label2=value2).
    #[arg(long = "label", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// The name of an image repository object.
    #[arg(long = "image-ref", default_value = "")]
    pub image_ref: String,
    /// A semver range to apply to tags; e.g., '1.x'.
    #[arg(long = "select-semver", default_value = "")]
    pub semver: String,
    /// Use alphabetical sorting to select image; either "asc" meaning select the last, or "desc" meaning select the first.
    #[arg(long = "select-alpha", default_value = "")]
    pub alpha: String,
    /// Use numeric sorting to select image; either "asc" meaning select the last, or "desc" meaning select the first.
    #[arg(long = "select-numeric", default_value = "")]
    pub numeric: String,
    /// Regular expression pattern used to filter the image tags.
    #[arg(long = "filter-regex", default_value = "")]
    pub filter_regex: String,
    /// Replacement pattern (using capture groups from --filter-regex) to use for sorting.
    #[arg(long = "filter-extract", default_value = "")]
    pub filter_extract: String,
    /// The digest reflection policy to use when observing latest image tags (one of 'Never', 'IfNotPresent', 'Always').
    #[arg(long = "reflect-digest", default_value = "")]
    pub reflect_digest: String,
    /// The interval at which to check for new image digests when the policy is set to 'Always'.
    #[arg(long)]
    pub interval: Option<String>,
}

/// `flux create image update`.
#[derive(Debug, Args)]
pub struct CreateImageUpdateArgs {
    /// The object's name.
    pub name: String,
    /// Common flags.
    #[command(flatten)]
    pub common: CreateCommon,
    /// The name of a GitRepository resource with details of the upstream Git repository.
    #[arg(long = "git-repo-ref", default_value = "")]
    pub git_repo_ref: String,
    /// The namespace of the GitRepository resource, defaults to the ImageUpdateAutomation namespace.
    #[arg(long = "git-repo-namespace", default_value = "")]
    pub git_repo_namespace: String,
    /// Path to the directory containing the manifests to be updated, defaults to the repository root.
    #[arg(long = "git-repo-path", default_value = "")]
    pub git_repo_path: String,
    /// The branch to checkout.
    #[arg(long = "checkout-branch", default_value = "")]
    pub checkout_branch: String,
    /// The branch to push commits to, defaults to the checkout branch if not specified.
    #[arg(long = "push-branch", default_value = "")]
    pub push_branch: String,
    /// The name to use for commit author.
    #[arg(long = "author-name", default_value = "")]
    pub author_name: String,
    /// The email to use for commit author.
    #[arg(long = "author-email", default_value = "")]
    pub author_email: String,
    /// A template for commit messages.
    #[arg(long = "commit-template", default_value = "")]
    pub commit_template: String,
    /// Name of the Secret containing the signing key referenced in spec.git.commit.signingKey.
    #[arg(long = "signing-key-secret", default_value = "")]
    pub signing_key_secret: String,
    /// Signing-key format: gpg or ssh (defaults to gpg when --signing-key-secret is set).
    #[arg(long = "signing-key-type", default_value = "")]
    pub signing_key_type: String,
}

/// `flux create alert-provider`.
#[derive(Debug, Args)]
pub struct CreateAlertProviderArgs {
    /// The object's name.
    pub name: String,
    /// Common flags.
    #[command(flatten)]
    pub common: CreateCommon,
    /// Type of provider.
    #[arg(long = "type", default_value = "")]
    pub provider_type: String,
    /// Channel to send messages to in the case of a chat provider.
    #[arg(long, default_value = "")]
    pub channel: String,
    /// Bot username used by the provider.
    #[arg(long, default_value = "")]
    pub username: String,
    /// Path to either the git repository, chat provider or webhook.
    #[arg(long, default_value = "")]
    pub address: String,
    /// Name of secret containing authentication token.
    #[arg(long = "secret-ref", default_value = "")]
    pub secret_ref: String,
}

/// `flux create alert`.
#[derive(Debug, Args)]
pub struct CreateAlertArgs {
    /// The object's name.
    pub name: String,
    /// Common flags.
    #[command(flatten)]
    pub common: CreateCommon,
    /// Reference to provider.
    #[arg(long = "provider-ref", default_value = "")]
    pub provider_ref: String,
    /// Severity of events to send alerts for.
    #[arg(long = "event-severity", default_value = "")]
    pub event_severity: String,
    /// Sources that should generate alerts (<kind>/<name>), also accepts comma-separated values.
    #[arg(long = "event-source", value_delimiter = ',')]
    pub event_sources: Vec<String>,
}

/// `flux create receiver`.
#[derive(Debug, Args)]
pub struct CreateReceiverArgs {
    /// The object's name.
    pub name: String,
    /// Common flags.
    #[command(flatten)]
    pub common: CreateCommon,
    /// The Receiver type, available options are: (generic, generic-hmac, github, gitlab, bitbucket, harbor, dockerhub, quay, gcr, nexus, acr, cdevents).
    #[arg(long = "type", default_value = "")]
    pub receiver_type: String,
    /// The name of the Secret holding the token.
    #[arg(long = "secret-ref", default_value = "")]
    pub secret_ref: String,
    /// Also accepts comma-separated values.
    #[arg(long = "event", value_delimiter = ',')]
    pub events: Vec<String>,
    /// Also accepts comma-separated values.
    #[arg(long = "resource", value_delimiter = ',')]
    pub resources: Vec<String>,
}

/// Flags of every `create` command.
#[derive(Debug, Args, Clone)]
pub struct CreateCommon {
    /// Export in YAML format to stdout.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub export: bool,
    /// Source sync interval.
    #[arg(long, default_value = "1m0s")]
    pub interval: String,
    /// Set labels on the resource (can specify multiple labels with commas: label1=value1,label2=value2).
    #[arg(long = "label", value_delimiter = ',')]
    pub labels: Vec<String>,
}

/// `flux create source …`.
#[derive(Debug, Subcommand)]
pub enum CreateSourceCommand {
    /// Create or update a GitRepository source.
    Git(CreateSourceGitArgs),
    /// Create or update a HelmRepository source.
    Helm(CreateSourceHelmArgs),
    /// Create or update an OCIRepository source.
    Oci(CreateSourceOciArgs),
    /// Create or update a Bucket source.
    Bucket(CreateSourceBucketArgs),
    /// Create or update a HelmChart source.
    Chart(CreateSourceChartArgs),
}

/// The signature verification flags of `create source oci|chart`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The OCI verify provider name to use for signature verification, available options are: (cosign, notation).
    #[arg(long = "verify-provider", default_value = "")]
    pub verify_provider: String,
    /// The name of a secret to use for signature verification.
    #[arg(long = "verify-secret-ref", default_value = "")]
    pub verify_secret_ref: String,
    /// Regular expression to use for the OIDC subject during signature verification.
    #[arg(long = "verify-subject", default_value = "")]
    pub verify_subject: String,
    /// Regular expression to use for the OIDC issuer during signature verification.
    #[arg(long = "verify-issuer", default_value = "")]
    pub verify_issuer: String,
}

/// `flux create source chart`.
#[derive(Debug, Args)]
pub struct CreateSourceChartArgs {
    /// The object's name.
    pub name: String,
    /// Common flags.
    #[command(flatten)]
    pub common: CreateCommon,
    /// Helm chart name or path.
    #[arg(long, default_value = "")]
    pub chart: String,
    /// Helm chart version, accepts a semver range (ignored for charts from GitRepository sources).
    #[arg(long = "chart-version", default_value = "")]
    pub chart_version: String,
    /// Source that contains the chart in the format '<kind>/<name>', where kind must be one of: (HelmRepository, GitRepository, Bucket).
    #[arg(long, default_value = "")]
    pub source: String,
    /// The reconcile strategy for helm chart (accepted values: Revision and ChartRevision).
    #[arg(long = "reconcile-strategy", default_value = "ChartVersion")]
    pub reconcile_strategy: String,
    /// Signature verification.
    #[command(flatten)]
    pub verify: VerifyArgs,
}

/// `flux create source bucket`.
#[derive(Debug, Args)]
pub struct CreateSourceBucketArgs {
    /// The object's name.
    pub name: String,
    /// Common flags.
    #[command(flatten)]
    pub common: CreateCommon,
    /// The S3 compatible storage provider name.
    #[arg(long, default_value = "generic")]
    pub provider: String,
    /// The bucket name.
    #[arg(long = "bucket-name", default_value = "")]
    pub bucket_name: String,
    /// The bucket endpoint address.
    #[arg(long, default_value = "")]
    pub endpoint: String,
    /// The bucket access key.
    #[arg(long = "access-key", default_value = "")]
    pub access_key: String,
    /// The bucket secret key.
    #[arg(long = "secret-key", default_value = "")]
    pub secret_key: String,
    /// The bucket region.
    #[arg(long, default_value = "")]
    pub region: String,
    /// For when connecting to a non-TLS S3 HTTP endpoint.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub insecure: bool,
    /// The name of an existing secret containing credentials.
    #[arg(long = "secret-ref", default_value = "")]
    pub secret_ref: String,
    /// The name of an existing secret containing the proxy address and credentials.
    #[arg(long = "proxy-secret-ref", default_value = "")]
    pub proxy_secret_ref: String,
    /// Set paths to ignore in bucket resource (can specify multiple paths with commas: path1,path2).
    #[arg(long = "ignore-paths", value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
    /// Set a timeout for fetch operations performed by the source controller (e.g. 'git clone' or 'helm repo update').
    #[arg(long = "fetch-timeout", default_value = "0s")]
    pub fetch_timeout: String,
}

/// `flux create source helm`.
#[derive(Debug, Args)]
pub struct CreateSourceHelmArgs {
    /// The object's name.
    pub name: String,
    /// Common flags.
    #[command(flatten)]
    pub common: CreateCommon,
    /// Helm repository address.
    #[arg(long, default_value = "")]
    pub url: String,
    /// Basic authentication username.
    #[arg(short = 'u', long, default_value = "")]
    pub username: String,
    /// Basic authentication password.
    #[arg(short = 'p', long, default_value = "")]
    pub password: String,
    /// TLS authentication cert file path.
    #[arg(long = "cert-file", default_value = "")]
    pub cert_file: String,
    /// TLS authentication key file path.
    #[arg(long = "key-file", default_value = "")]
    pub key_file: String,
    /// TLS authentication CA file path.
    #[arg(long = "ca-file", default_value = "")]
    pub ca_file: String,
    /// The name of an existing secret containing TLS, basic auth or docker-config credentials.
    #[arg(long = "secret-ref", default_value = "")]
    pub secret_ref: String,
    /// Pass credentials to all domains.
    #[arg(long = "pass-credentials", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub pass_credentials: bool,
    /// OCI provider for authentication.
    #[arg(long = "oci-provider", default_value = "")]
    pub oci_provider: String,
    /// Set a timeout for fetch operations performed by the source controller (e.g. 'git clone' or 'helm repo update').
    #[arg(long = "fetch-timeout", default_value = "0s")]
    pub fetch_timeout: String,
}

/// `flux create source oci`.
#[derive(Debug, Args)]
pub struct CreateSourceOciArgs {
    /// The object's name.
    pub name: String,
    /// Common flags.
    #[command(flatten)]
    pub common: CreateCommon,
    /// The OCI repository URL.
    #[arg(long, default_value = "")]
    pub url: String,
    /// The OCI artifact tag.
    #[arg(long, default_value = "")]
    pub tag: String,
    /// The OCI artifact tag semver range.
    #[arg(long = "tag-semver", default_value = "")]
    pub tag_semver: String,
    /// The OCI artifact digest.
    #[arg(long, default_value = "")]
    pub digest: String,
    /// The name of the Kubernetes image pull secret (type 'kubernetes.io/dockerconfigjson').
    #[arg(long = "secret-ref", default_value = "")]
    pub secret_ref: String,
    /// The name of an existing secret containing the proxy address and credentials.
    #[arg(long = "proxy-secret-ref", default_value = "")]
    pub proxy_secret_ref: String,
    /// Signature verification.
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// The name of the Kubernetes service account that refers to an image pull secret.
    #[arg(long = "service-account", default_value = "")]
    pub service_account: String,
    /// The name of a secret to use for TLS certificates.
    #[arg(long = "cert-ref", default_value = "")]
    pub cert_ref: String,
    /// The OCI provider name, available options are: (generic, aws, azure, gcp).
    #[arg(long, default_value = "generic")]
    pub provider: String,
    /// Set paths to ignore resources (can specify multiple paths with commas: path1,path2).
    #[arg(long = "ignore-paths", value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
    /// For when connecting to a non-TLS registries over plain HTTP.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub insecure: bool,
    /// The OCI artifact layer selector in the format '<media-type>:<operation>'.
    #[arg(long = "layer-selector", default_value = "")]
    pub layer_selector: String,
    /// Set a timeout for fetch operations performed by the source controller (e.g. 'git clone' or 'helm repo update').
    #[arg(long = "fetch-timeout", default_value = "0s")]
    pub fetch_timeout: String,
}

/// `flux create source git`.
#[derive(Debug, Args)]
pub struct CreateSourceGitArgs {
    /// The object's name.
    pub name: String,
    /// Common flags.
    #[command(flatten)]
    pub common: CreateCommon,
    /// Git address, e.g. ssh://git@host/org/repository.
    #[arg(long)]
    pub url: String,
    /// Git branch.
    #[arg(long)]
    pub branch: Option<String>,
    /// Git tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Git tag semver range.
    #[arg(long = "tag-semver")]
    pub tag_semver: Option<String>,
    /// Git reference name.
    #[arg(long = "ref-name")]
    pub ref_name: Option<String>,
    /// Git commit.
    #[arg(long)]
    pub commit: Option<String>,
    /// The name of an existing secret containing SSH or basic credentials.
    #[arg(long = "secret-ref")]
    pub secret_ref: Option<String>,
    /// When enabled, configures the GitRepository source to initialize and include Git submodules in the artifact it produces.
    #[arg(long = "recurse-submodules", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub recurse_submodules: bool,
    /// Set paths to ignore in git resource (can specify multiple paths with commas: path1,path2).
    #[arg(long = "ignore-paths", value_delimiter = ',')]
    pub ignore_paths: Vec<String>,
}

/// `flux create kustomization`.
#[derive(Debug, Args)]
pub struct CreateKustomizationArgs {
    /// The object's name.
    pub name: String,
    /// Common flags.
    #[command(flatten)]
    pub common: CreateCommon,
    /// Source that contains the Kubernetes manifests in the format '[<kind>/]<name>.<namespace>', where kind must be one of: (GitRepository, OCIRepository, Bucket), if kind is not specified it defaults to GitRepository.
    #[arg(long)]
    pub source: String,
    /// Path to the directory containing a kustomization.yaml file.
    #[arg(long, default_value = "./")]
    pub path: String,
    /// Enable garbage collection.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub prune: bool,
    /// Kustomization that must be ready before this Kustomization can be applied, supported formats '<name>' and '<namespace>/<name>', also accepts comma-separated values.
    #[arg(long = "depends-on", value_delimiter = ',')]
    pub depends_on: Vec<String>,
    /// Enable health checking of all the applied resources.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub wait: bool,
    /// Workload to be health checked, in the format '<kind>/<name>.<namespace>'.
    #[arg(long = "health-check", value_delimiter = ',')]
    pub health_check: Vec<String>,
    /// Timeout of health checking operations.
    #[arg(long = "health-check-timeout")]
    pub health_check_timeout: Option<String>,
    /// Overrides the namespace of all Kustomization objects reconciled by this Kustomization.
    #[arg(long = "target-namespace")]
    pub target_namespace: Option<String>,
    /// The name of the service account to impersonate when reconciling this Kustomization.
    #[arg(long = "service-account")]
    pub service_account: Option<String>,
    /// Enable secrets decryption, provider can be 'sops'.
    #[arg(long = "decryption-provider")]
    pub decryption_provider: Option<String>,
    /// Set the Kubernetes secret name that contains the OpenPGP private keys used for sops decryption.
    #[arg(long = "decryption-secret")]
    pub decryption_secret: Option<String>,
    /// The interval at which to retry a previously failed reconciliation.
    #[arg(long = "retry-interval")]
    pub retry_interval: Option<String>,
    /// The name of the Kubernetes secret that contains a key with the kubeconfig file for connecting to a remote cluster.
    #[arg(long = "kubeconfig-secret-ref")]
    pub kubeconfig_secret_ref: Option<String>,
}

/// `flux create helmrelease`.
#[derive(Debug, Args)]
pub struct CreateHelmReleaseArgs {
    /// The object's name.
    pub name: String,
    /// Common flags.
    #[command(flatten)]
    pub common: CreateCommon,
    /// Name used for the Helm release, defaults to a composition of '[<target-namespace>-]<HelmRelease-name>'.
    #[arg(long = "release-name", default_value = "")]
    pub release_name: String,
    /// Source that contains the chart in the format '<kind>/<name>.<namespace>', where kind must be one of: (HelmRepository, GitRepository, Bucket).
    #[arg(long, default_value = "")]
    pub source: String,
    /// Helm chart name or path.
    #[arg(long, default_value = "")]
    pub chart: String,
    /// Helm chart version, accepts a semver range (ignored for charts from GitRepository sources).
    #[arg(long = "chart-version", default_value = "")]
    pub chart_version: String,
    /// HelmReleases that must be ready before this release can be installed, supported formats '<name>' and '<namespace>/<name>'.
    #[arg(long = "depends-on", value_delimiter = ',')]
    pub depends_on: Vec<String>,
    /// Namespace to install this release, defaults to the HelmRelease namespace.
    #[arg(long = "target-namespace", default_value = "")]
    pub target_namespace: String,
    /// Namespace to store the Helm release, defaults to the target namespace.
    #[arg(long = "storage-namespace", default_value = "")]
    pub storage_namespace: String,
    /// Create the target namespace if it does not exist.
    #[arg(long = "create-target-namespace", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub create_target_namespace: bool,
    /// The name of the service account to impersonate when reconciling this HelmRelease.
    #[arg(long = "service-account", default_value = "")]
    pub service_account: String,
    /// The reconcile strategy for helm chart created by the helm release(accepted values: Revision and ChartRevision).
    #[arg(long = "reconcile-strategy", default_value = "ChartVersion")]
    pub reconcile_strategy: String,
    /// The interval of which to check for new chart versions.
    #[arg(long = "chart-interval")]
    pub chart_interval: Option<String>,
    /// Local path to values.yaml files, also accepts comma-separated values.
    #[arg(long = "values", value_delimiter = ',')]
    pub values: Vec<String>,
    /// A Kubernetes object reference that contains the values.yaml data key in the format '<kind>/<name>', where kind must be one of: (Secret,ConfigMap).
    #[arg(long = "values-from", value_delimiter = ',')]
    pub values_from: Vec<String>,
    /// Upgrade CRDs policy.
    #[arg(long)]
    pub crds: Option<String>,
    /// The name of the Kubernetes Secret that contains a key with the kubeconfig file for connecting to a remote cluster.
    #[arg(long = "kubeconfig-secret-ref", default_value = "")]
    pub kubeconfig_secret_ref: String,
    /// The name of the HelmChart resource to use as source for the HelmRelease, in the format '<kind>/<name>.<namespace>', where kind must be one of: (OCIRepository,HelmChart).
    #[arg(long = "chart-ref", default_value = "")]
    pub chart_ref: String,
}

/// `flux create secret …`.
#[derive(Debug, Subcommand)]
pub enum CreateSecretCommand {
    /// Create or update a Kubernetes secret for Git authentication.
    Git(CreateSecretGitArgs),
}

/// `flux create secret git`.
#[derive(Debug, Args)]
pub struct CreateSecretGitArgs {
    /// The secret's name.
    pub name: String,
    /// Export in YAML format to stdout.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub export: bool,
    /// Git address, e.g. ssh://git@host/org/repository.
    #[arg(long)]
    pub url: String,
    /// Basic authentication username.
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Basic authentication password.
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Bearer token used for HTTPS authentication.
    #[arg(long = "bearer-token")]
    pub bearer_token: Option<String>,
    /// Path to a private key file used for authenticating to the Git SSH server (a new key is generated when not given).
    #[arg(long = "private-key-file")]
    pub private_key_file: Option<String>,
    /// SSH key algorithm of a generated key (ecdsa, ed25519).
    #[arg(long = "ssh-key-algorithm", default_value = "ecdsa")]
    pub ssh_key_algorithm: String,
    /// SSH ECDSA public key curve of a generated key (p256, p384).
    #[arg(long = "ssh-ecdsa-curve", default_value = "p384")]
    pub ssh_ecdsa_curve: String,
    /// The known_hosts to trust; scanned from the server when not given.
    #[arg(long = "known-hosts-file")]
    pub known_hosts_file: Option<String>,
    /// Path to the TLS CA file used for validating self-signed certificates.
    #[arg(long = "ca-crt-file")]
    pub ca_crt_file: Option<String>,
}

/// `flux get …`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// What to list.
    #[command(subcommand)]
    pub what: GetCommand,
    /// List the requested object(s) across all namespaces.
    #[arg(short = 'A', long = "all-namespaces", global = true, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub all_namespaces: bool,
    /// Skip the header when printing the results.
    #[arg(long = "no-header", global = true, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub no_header: bool,
    /// Specify the status condition name and the desired state to filter the get result, e.g. ready=false or ready!=true.
    #[arg(long = "status-selector", global = true)]
    pub status_selector: Option<String>,
    /// Filter objects by label selector.
    #[arg(short = 'l', long = "label-selector", global = true)]
    pub label_selector: Option<String>,
    /// After listing/getting the requested object, watch for changes.
    #[arg(short = 'w', long, global = true, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub watch: bool,
}

/// The kinds `get` lists.
#[derive(Debug, Subcommand)]
pub enum GetCommand {
    /// Get all resources and statuses.
    All,
    /// Get source statuses.
    #[command(subcommand)]
    Sources(SourceKindName),
    /// Get Kustomization statuses.
    #[command(alias = "ks", alias = "kustomization")]
    Kustomizations(OptionalName),
    /// Get HelmRelease statuses.
    #[command(alias = "hr", alias = "helmrelease")]
    Helmreleases(OptionalName),
    /// Get Alert statuses.
    #[command(alias = "alert")]
    Alerts(OptionalName),
    /// Get Provider statuses.
    #[command(name = "alert-providers", alias = "alert-provider")]
    AlertProviders(OptionalName),
    /// Get Receiver statuses.
    #[command(alias = "receiver")]
    Receivers(OptionalName),
    /// Get image automation object status.
    #[command(subcommand, alias = "image")]
    Images(ImageKindName),
}

/// An image kind and an optional name.
#[derive(Debug, Subcommand)]
pub enum ImageKindName {
    /// All image objects.
    All,
    /// ImageRepository statuses.
    Repository(OptionalName),
    /// ImagePolicy statuses.
    Policy(OptionalName),
    /// ImageUpdateAutomation statuses.
    Update(OptionalName),
}

/// A source kind and an optional name.
#[derive(Debug, Subcommand)]
pub enum SourceKindName {
    /// All sources.
    All,
    /// GitRepository sources.
    Git(OptionalName),
    /// OCIRepository sources.
    Oci(OptionalName),
    /// Bucket sources.
    Bucket(OptionalName),
    /// HelmRepository sources.
    Helm(OptionalName),
    /// HelmChart sources.
    Chart(OptionalName),
}

/// An optional object name.
#[derive(Debug, Args)]
pub struct OptionalName {
    /// Only this object.
    pub name: Option<String>,
}

/// `flux reconcile …`.
#[derive(Debug, Subcommand)]
pub enum ReconcileCommand {
    /// Reconcile sources.
    #[command(subcommand)]
    Source(SourceName),
    /// Reconcile a Kustomization resource.
    #[command(alias = "ks")]
    Kustomization(ReconcileWithSourceArgs),
    /// Reconcile a HelmRelease resource.
    #[command(alias = "hr")]
    Helmrelease(ReconcileWithSourceArgs),
    /// Reconcile a Receiver.
    Receiver(Name),
    /// Reconcile image automation objects.
    #[command(subcommand)]
    Image(ImageName),
}

/// An image kind and a name.
#[derive(Debug, Subcommand)]
pub enum ImageName {
    /// An ImageRepository.
    Repository(Name),
    /// An ImagePolicy.
    Policy(Name),
    /// An ImageUpdateAutomation.
    Update(Name),
}

/// A source kind and a name.
#[derive(Debug, Subcommand)]
pub enum SourceName {
    /// A GitRepository source.
    Git(Name),
    /// An OCIRepository source.
    Oci(Name),
    /// A Bucket source.
    Bucket(Name),
    /// A HelmRepository source.
    Helm(Name),
    /// A HelmChart source.
    Chart(Name),
}

/// An object name.
#[derive(Debug, Args)]
pub struct Name {
    /// The object's name.
    pub name: String,
}

/// `flux reconcile kustomization|helmrelease`.
#[derive(Debug, Args)]
pub struct ReconcileWithSourceArgs {
    /// The object's name.
    pub name: String,
    /// Reconcile the source first.
    #[arg(long = "with-source", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub with_source: bool,
}

/// `flux suspend|resume KIND [NAME]`.
#[derive(Debug, Args)]
pub struct SuspendArgs {
    /// The kind.
    #[command(subcommand)]
    pub what: KindTarget,
    /// All objects of the kind in the namespace.
    #[arg(long, global = true, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub all: bool,
    /// Wait for the resumed objects to be reconciled (resume only; default:
    /// only when exactly one object is named, as upstream).
    #[arg(long, global = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub wait: Option<bool>,
}

/// `flux delete KIND NAME`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The kind.
    #[command(subcommand)]
    pub what: KindTarget,
    /// Delete resource without asking for confirmation.
    #[arg(short = 's', long, global = true, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub silent: bool,
}

/// `flux export KIND [NAME]`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The kind.
    #[command(subcommand)]
    pub what: KindTarget,
    /// Select all resources.
    #[arg(long, global = true, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub all: bool,
}

/// A kind (sources, kustomization, helmrelease) and an optional name.
#[derive(Debug, Subcommand)]
pub enum KindTarget {
    /// Sources.
    #[command(subcommand)]
    Source(SourceKindOptionalName),
    /// A Kustomization.
    #[command(alias = "ks")]
    Kustomization(OptionalName),
    /// A HelmRelease.
    #[command(alias = "hr")]
    Helmrelease(OptionalName),
    /// An Alert.
    Alert(OptionalName),
    /// A Provider.
    #[command(name = "alert-provider")]
    AlertProvider(OptionalName),
    /// A Receiver.
    Receiver(OptionalName),
    /// Image automation objects.
    #[command(subcommand)]
    Image(ImageKindOptionalName),
}

/// An image kind and an optional name (`--all` selects every one).
#[derive(Debug, Subcommand)]
pub enum ImageKindOptionalName {
    /// An ImageRepository.
    Repository(OptionalName),
    /// An ImagePolicy.
    Policy(OptionalName),
    /// An ImageUpdateAutomation.
    Update(OptionalName),
}

/// A source kind and an optional name.
#[derive(Debug, Subcommand)]
pub enum SourceKindOptionalName {
    /// A GitRepository source.
    Git(OptionalName),
    /// An OCIRepository source.
    Oci(OptionalName),
    /// A Bucket source.
    Bucket(OptionalName),
    /// A HelmRepository source.
    Helm(OptionalName),
    /// A HelmChart source.
    Chart(OptionalName),
}

/// `flux tree …`.
#[derive(Debug, Subcommand)]
pub enum TreeCommand {
    /// Print the resources reconciled by a Kustomization.
    #[command(alias = "ks")]
    Kustomization(TreeArgs),
}

/// `flux tree kustomization`.
#[derive(Debug, Args)]
pub struct TreeArgs {
    /// The Kustomization's name.
    pub name: String,
    /// Print only toolkit objects (Kustomizations, HelmReleases, sources).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub compact: bool,
}

/// `flux events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Get the events for a particular object, in the format KIND/NAME.
    #[arg(long = "for")]
    pub for_object: Option<String>,
    /// Display events from all namespaces.
    #[arg(short = 'A', long = "all-namespaces", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub all_namespaces: bool,
    /// Filter events by type (Normal, Warning).
    #[arg(long = "types", value_delimiter = ',')]
    pub types: Vec<String>,
}

/// `flux trigger …`.
#[derive(Debug, Subcommand)]
pub enum TriggerCommand {
    /// Trigger the webhook of a Receiver.
    Receiver(TriggerReceiverArgs),
}

/// `flux trigger receiver`.
#[derive(Debug, Args)]
pub struct TriggerReceiverArgs {
    /// The Receiver's name.
    pub name: String,
    /// The Receiver token, required for all types except generic-oidc where it must not be set.
    #[arg(long, default_value = "")]
    pub token: String,
    /// The base URL of the notification-controller webhook receiver, may contain a base path.
    #[arg(long, default_value = "")]
    pub url: String,
    /// The Receiver type, one of: generic, generic-hmac, generic-oidc.
    #[arg(long = "type", default_value = "generic")]
    pub receiver_type: String,
    /// The OIDC provider to fetch the token from, one of: github, forgejo (generic-oidc only, mutually exclusive with --oidc-token).
    #[arg(long = "oidc-provider", default_value = "")]
    pub oidc_provider: String,
    /// The OIDC token to authenticate the request (generic-oidc only, mutually exclusive with --oidc-provider); defaults to the FLUX_TRIGGER_RECEIVER_OIDC_TOKEN environment variable.
    #[arg(long = "oidc-token", default_value = "")]
    pub oidc_token: String,
    /// The audience of the OIDC token to fetch (requires --oidc-provider); defaults to "notification-controller".
    #[arg(long = "oidc-audience", default_value = "")]
    pub oidc_audience: String,
    /// The JSON payload to send in the request body.
    #[arg(long, default_value = "{}")]
    pub payload: String,
    /// The number of times to retry on connection errors or retryable HTTP status codes (404, 408, 429, 5xx); set to 0 to disable.
    #[arg(long, default_value_t = 10)]
    pub retries: u32,
    /// The delay between retries.
    #[arg(long = "retry-delay", default_value = "10s")]
    pub retry_delay: String,
}
