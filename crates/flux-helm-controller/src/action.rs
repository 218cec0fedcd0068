//! Helm's actions over the cluster, as Helm v4 runs them for upstream's
//! controller: install, upgrade, rollback, uninstall and unlock, each
//! writing the release records Helm writes (`pending-*` first, then
//! `deployed`/`failed`/`superseded`/`uninstalled`, with Helm's
//! descriptions), running the chart's hooks (weights, delete policies,
//! Jobs and Pods awaited) and applying the manifest with server-side apply
//! as the `helm-controller` field manager (conflicts forced, Helm's
//! ownership label and annotations set), then waiting with kstatus (fail
//! fast). Every object the previous revision had and the new one does not
//! is deleted, unless it is marked `helm.sh/resource-policy: keep`.

use std::collections::BTreeSet;
use std::time::Duration;

use flux_helm::release::{Release, StoredHook, status};
use flux_runtime::ssa::{Applier, Change};
use kube::api::{DeleteParams, DynamicObject, PropagationPolicy};
use kube::{Api, Client};
use serde_json::{Map, Value as Json};

pub use flux_helm::helmrelease::objects::{
    MANAGED_BY_LABEL, RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION, managed_meta,
    objects_of,
};

use crate::storage::Storage;

/// Objects Helm never deletes.
const RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";

/// Objects as the API server returned them, by `Kind/namespace/name`.
type Observed = std::collections::HashMap<String, Json>;

/// Where a release lives and how its actions run.
pub struct Target<'a> {
    /// Applies, resolves and deletes the release's objects.
    pub applier: &'a Applier,
    /// The client of the same identity (hooks, waits).
    pub client: Client,
    /// The release records.
    pub storage: Storage,
    /// The release name.
    pub name: String,
    /// The release namespace.
    pub namespace: String,
}

/// How an action waits and which steps it skips.
#[derive(Clone, Debug)]
pub struct Options {
    /// How long hooks and the wait may take.
    pub timeout: Duration,
    /// Skip the wait for the release's objects.
    pub disable_wait: bool,
    /// Leave Jobs out of the wait.
    pub disable_wait_for_jobs: bool,
    /// Run no hooks.
    pub disable_hooks: bool,
    /// `maxHistory` (0: unlimited).
    pub max_history: i64,
    /// Delete what a failed upgrade created.
    pub cleanup_on_fail: bool,
    /// `spec.healthCheckExprs`: CEL health of custom kinds in the wait.
    pub health_checks: Vec<flux_api::kustomize_types::CustomHealthCheck>,
}

fn text<'a>(object: &'a Json, path: &[&str]) -> &'a str {
    let mut v = object;
    for p in path {
        match v.get(p) {
            Some(x) => v = x,
            None => return "",
        }
    }
    v.as_str().unwrap_or_default()
}

/// `Kind/namespace/name` of an object once defaulted.
fn key_of(object: &Json) -> (String, String, String, String) {
    (
        text(object, &["apiVersion"]).to_string(),
        text(object, &["kind"]).to_string(),
        text(object, &["metadata", "namespace"]).to_string(),
        text(object, &["metadata", "name"]).to_string(),
    )
}

impl Target<'_> {
    /// Sets the release namespace on namespaced objects without one (and
    /// clears it on cluster-scoped ones).
    async fn defaulted(&self, objects: Vec<Json>) -> Result<Vec<Json>, String> {
        self.defaulted_with(objects, false).await
    }

    /// The objects of `manifest` with their namespaces as the cluster sees
    /// them (kinds the cluster does not serve left as written).
    pub async fn objects_in_cluster(&self, manifest: &str) -> Vec<Json> {
        let mut out = Vec::new();
        for object in objects_of(manifest).unwrap_or_default() {
            match self.defaulted(vec![object.clone()]).await {
                Ok(mut one) => out.append(&mut one),
                Err(_) => out.push(object),
            }
        }
        out
    }

    /// [`Self::defaulted`]; with `lenient`, objects of kinds the cluster no
    /// longer serves are left out (what is to be deleted).
    async fn defaulted_with(&self, objects: Vec<Json>, lenient: bool) -> Result<Vec<Json>, String> {
        let mut out = Vec::with_capacity(objects.len());
        for mut object in objects {
            let (api_version, kind, namespace, _) = key_of(&object);
            let namespaced = match self.applier.resolve(&api_version, &kind).await {
                Ok((_, namespaced)) => namespaced,
                Err(_) if lenient => continue,
                Err(e) => return Err(e.to_string()),
            };
            if let Some(metadata) = object.get_mut("metadata").and_then(Json::as_object_mut) {
                if !namespaced {
                    metadata.remove("namespace");
                } else if namespace.is_empty() {
                    metadata.insert("namespace".into(), Json::String(self.namespace.clone()));
                }
            }
            out.push(object);
        }
        Ok(out)
    }

    /// Applies the release's objects (Helm's metadata set).
    /// Applies `objects`: what happened to each, and each object as the
    /// API server returned it (by subject), for the wait's first look.
    async fn apply(&self, objects: &[Json]) -> Result<(Vec<Change>, Observed), String> {
        let mut changes = Vec::new();
        let mut observed = Observed::new();
        for object in objects {
            let mut object = object.clone();
            managed_meta(&mut object, &self.name, &self.namespace);
            let (change, seen) = self
                .applier
                .apply_observed(&object, true)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(seen) = seen {
                observed.insert(change.subject.clone(), seen);
            }
            changes.push(change);
        }
        Ok((changes, observed))
    }

    fn api(
        &self,
        resource: &kube::api::ApiResource,
        namespaced: bool,
        ns: &str,
    ) -> Api<DynamicObject> {
        if namespaced {
            Api::namespaced_with(self.client.clone(), ns, resource)
        } else {
            Api::all_with(self.client.clone(), resource)
        }
    }

    /// Deletes objects (background propagation), newest kinds first, those
    /// marked `keep` left alone; a missing object is fine. Returns what
    /// was deleted.
    async fn delete(
        &self,
        objects: &[Json],
        wait: Option<Duration>,
    ) -> Result<Vec<String>, String> {
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for object in objects.iter().rev() {
            if text(
                object,
                &["metadata", "annotations", RESOURCE_POLICY_ANNOTATION],
            ) == "keep"
            {
                continue;
            }
            let (api_version, kind, namespace, name) = key_of(object);
            let Ok((resource, namespaced)) = self.applier.resolve(&api_version, &kind).await else {
                continue;
            };
            let api = self.api(&resource, namespaced, &namespace);
            let params = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                ..DeleteParams::default()
            };
            match api.delete(&name, &params).await {
                Ok(_) => deleted.push(format!("{kind}/{name}")),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => errors.push(format!(
                    "{kind}/{name}: {}",
                    flux_runtime::ssa::kube_message(&e)
                )),
            }
            if let Some(timeout) = wait {
                wait_gone(&api, &name, timeout).await;
            }
        }
        if errors.is_empty() {
            Ok(deleted)
        } else {
            Err(errors.join("; "))
        }
    }

    /// After the new objects are applied: deletes those of `previous` the
    /// new set no longer has (Helm's update), then waits for the new set
    /// unless waiting is disabled.
    async fn settle(
        &self,
        objects: &[Json],
        observed: &Observed,
        previous: Vec<Json>,
        options: &Options,
    ) -> Result<(), String> {
        let keep: BTreeSet<_> = objects.iter().map(identity).collect();
        let stale: Vec<Json> = self
            .defaulted_with(previous, true)
            .await?
            .into_iter()
            .filter(|o| !keep.contains(&identity(o)))
            .collect();
        self.delete(&stale, None).await?;
        if !options.disable_wait {
            self.wait(objects, observed, options).await?;
        }
        Ok(())
    }

    /// Waits until every object is current (kstatus, fail fast).
    async fn wait(
        &self,
        objects: &[Json],
        observed: &Observed,
        options: &Options,
    ) -> Result<(), String> {
        let targets: Vec<flux_runtime::health::Target> = objects
            .iter()
            .map(key_of)
            .filter(|(_, kind, _, _)| !(options.disable_wait_for_jobs && kind == "Job"))
            .map(
                |(api_version, kind, namespace, name)| flux_runtime::health::Target {
                    api_version,
                    kind,
                    namespace,
                    name,
                },
            )
            .collect();
        if targets.is_empty() {
            return Ok(());
        }
        let evaluators = options
            .health_checks
            .iter()
            .map(flux_runtime::cel::Evaluator::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let custom = |api_version: &str, kind: &str, object: &Json| {
            evaluators
                .iter()
                .find(|e| e.applies(api_version, kind))
                .map(|e| e.evaluate(object))
        };
        flux_runtime::health::wait(
            self.applier,
            &self.client,
            &targets,
            observed,
            &custom,
            options.timeout,
            Duration::from_secs(2),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.0)
    }

    /// Runs the hooks of `event` (weight, then name), recording their last
    /// runs in `hooks`.
    async fn run_hooks(
        &self,
        hooks: &mut [StoredHook],
        event: &str,
        options: &Options,
    ) -> Result<(), String> {
        if options.disable_hooks {
            return Ok(());
        }
        let mut order: Vec<usize> = (0..hooks.len())
            .filter(|&i| hooks[i].hook.events.iter().any(|e| e == event))
            .collect();
        order.sort_by(|&a, &b| {
            (hooks[a].hook.weight, &hooks[a].hook.name)
                .cmp(&(hooks[b].hook.weight, &hooks[b].hook.name))
        });
        let mut ran = Vec::new();
        for i in order {
            let objects = self.defaulted(objects_of(&hooks[i].hook.manifest)?).await?;
            let policies = &hooks[i].hook.delete_policies;
            if policies.is_empty() || policies.iter().any(|p| p == "before-hook-creation") {
                self.delete(&objects, Some(options.timeout)).await?;
            }
            hooks[i].last_run = (flux_helm::release::now(), String::new(), "Running".into());
            let result = match self.apply(&objects).await {
                Err(e) => Err(format!(
                    "warning: Hook {event} {} failed: {e}",
                    hooks[i].hook.path
                )),
                Ok(_) => self.watch_until_ready(&objects, options.timeout).await,
            };
            hooks[i].last_run.1 = flux_helm::release::now();
            match result {
                Ok(()) => {
                    hooks[i].last_run.2 = "Succeeded".into();
                    ran.push((i, objects));
                }
                Err(e) => {
                    hooks[i].last_run.2 = "Failed".into();
                    if hooks[i]
                        .hook
                        .delete_policies
                        .iter()
                        .any(|p| p == "hook-failed")
                    {
                        let _ = self.delete(&objects, None).await;
                    }
                    for (j, objects) in &ran {
                        if hooks[*j]
                            .hook
                            .delete_policies
                            .iter()
                            .any(|p| p == "hook-succeeded")
                        {
                            let _ = self.delete(objects, None).await;
                        }
                    }
                    return Err(e);
                }
            }
        }
        for (j, objects) in ran.iter().rev() {
            if hooks[*j]
                .hook
                .delete_policies
                .iter()
                .any(|p| p == "hook-succeeded")
            {
                self.delete(objects, Some(options.timeout)).await?;
            }
        }
        Ok(())
    }

    /// Helm's `WatchUntilReady`: Jobs until complete, Pods until they
    /// succeed; other kinds are ready at once.
    async fn watch_until_ready(&self, objects: &[Json], timeout: Duration) -> Result<(), String> {
        let start = std::time::Instant::now();
        for object in objects {
            let (api_version, kind, namespace, name) = key_of(object);
            if kind != "Job" && kind != "Pod" {
                continue;
            }
            let (resource, namespaced) = self
                .applier
                .resolve(&api_version, &kind)
                .await
                .map_err(|e| e.to_string())?;
            let api = self.api(&resource, namespaced, &namespace);
            loop {
                let live = api
                    .get_opt(&name)
                    .await
                    .map_err(|e| flux_runtime::ssa::kube_message(&e))?;
                let status = live
                    .as_ref()
                    .and_then(|o| o.data.get("status"))
                    .cloned()
                    .unwrap_or(Json::Null);
                if kind == "Job" {
                    let conditions = status
                        .get("conditions")
                        .and_then(Json::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let done = conditions.iter().find_map(|c| {
                        let is = |t: &str| {
                            c.get("type").and_then(Json::as_str) == Some(t)
                                && c.get("status").and_then(Json::as_str) == Some("True")
                        };
                        if is("Complete") {
                            Some(Ok(()))
                        } else if is("Failed") {
                            Some(Err(format!(
                                "job {name} failed: {}",
                                c.get("reason").and_then(Json::as_str).unwrap_or_default()
                            )))
                        } else {
                            None
                        }
                    });
                    if let Some(done) = done {
                        done?;
                        break;
                    }
                } else {
                    match status.get("phase").and_then(Json::as_str) {
                        Some("Succeeded") => break,
                        Some("Failed") => return Err(format!("pod {name} failed")),
                        _ => {}
                    }
                }
                if start.elapsed() >= timeout {
                    return Err(format!(
                        "timed out waiting for the condition on {kind}/{name}"
                    ));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Ok(())
    }

    /// Deletes the oldest records until at most `max - 1` remain, never the
    /// deployed one (Helm's `removeLeastRecent` before a new revision); the
    /// deleted records are seen as written (upstream's storage observer
    /// sees deletes).
    async fn trim_history(
        &self,
        history: &[Release],
        max: i64,
        written: &mut Written,
    ) -> Result<(), String> {
        if max <= 0 {
            return Ok(());
        }
        let keep = usize::try_from(max - 1).unwrap_or(0);
        let deployed = history
            .iter()
            .rev()
            .find(|r| r.info.status == status::DEPLOYED)
            .map(|r| r.version);
        let candidates: Vec<&Release> = history
            .iter()
            .filter(|r| Some(r.version) != deployed)
            .collect();
        let excess = history.len().saturating_sub(keep);
        for r in candidates.into_iter().take(excess) {
            self.storage.delete(r).await.map_err(|e| e.0)?;
            written.record(r);
        }
        Ok(())
    }

    /// Applies the chart's CRDs (`crds/`) by `policy` (upstream's
    /// `applyCRDs`): `Create` creates the missing ones, `CreateReplace`
    /// also updates the existing ones, `Skip` does nothing; other kinds in
    /// `crds/` are ignored. Each CRD gets `labels` and is waited for until
    /// established (60 s). Returns whether a CRD was created or changed.
    pub async fn apply_crds(
        &self,
        files: &[(String, Vec<u8>)],
        policy: flux_api::helm::v2::CrdsPolicy,
        labels: &[(String, String)],
    ) -> Result<bool, String> {
        use flux_api::helm::v2::CrdsPolicy;
        if policy == CrdsPolicy::Skip || files.is_empty() {
            return Ok(false);
        }
        let mut changed = false;
        let crds_api: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
            Api::all(self.client.clone());
        let mut applied = Vec::new();
        for (file, data) in files {
            let objects = objects_of(&String::from_utf8_lossy(data)).map_err(|e| {
                format!("failed to parse CustomResourceDefinitions from {file}: {e}")
            })?;
            for mut object in objects {
                if text(&object, &["kind"]) != "CustomResourceDefinition"
                    || !text(&object, &["apiVersion"]).starts_with("apiextensions.k8s.io/")
                {
                    tracing::info!(
                        file = %file,
                        "warning: ignoring non-CRD resources found in the chart's crds/ directory"
                    );
                    continue;
                }
                let name = text(&object, &["metadata", "name"]).to_string();
                if let Some(metadata) = object.get_mut("metadata").and_then(Json::as_object_mut) {
                    let l = metadata
                        .entry("labels")
                        .or_insert_with(|| Json::Object(Map::new()));
                    if let Some(l) = l.as_object_mut() {
                        for (k, v) in labels {
                            l.insert(k.clone(), Json::String(v.clone()));
                        }
                    }
                }
                if policy == CrdsPolicy::Create
                    && crds_api
                        .get_opt(&name)
                        .await
                        .map_err(|e| flux_runtime::ssa::kube_message(&e))?
                        .is_some()
                {
                    tracing::info!("CustomResourceDefinition {name} is already present. Skipping.");
                    continue;
                }
                let change = self.applier.apply(&object, true).await.map_err(|e| {
                    format!(
                        "failed to create CustomResourceDefinition {name}: {}",
                        e.message
                    )
                })?;
                changed |= change.action != flux_runtime::ssa::Action::Unchanged;
                applied.push(name);
            }
        }
        for name in applied {
            self.applier
                .wait_established(&name, Duration::from_secs(60))
                .await
                .map_err(|e| e.message)?;
        }
        Ok(changed)
    }

    async fn create_namespace(&self) -> Result<(), String> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        if api
            .get_opt(&self.namespace)
            .await
            .map_err(|e| flux_runtime::ssa::kube_message(&e))?
            .is_some()
        {
            return Ok(());
        }
        let ns: k8s_openapi::api::core::v1::Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": self.namespace, "labels": {"name": self.namespace}}
        }))
        .map_err(|e| e.to_string())?;
        match api.create(&Default::default(), &ns).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(flux_runtime::ssa::kube_message(&e)),
        }
    }
}

async fn wait_gone(api: &Api<DynamicObject>, name: &str, timeout: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        match api.get_opt(name).await {
            Ok(Some(_)) => tokio::time::sleep(Duration::from_secs(1)).await,
            _ => return,
        }
    }
}

/// What an action did to storage: every record it wrote, newest last (the
/// snapshots of `status.history` are made of them).
#[derive(Default)]
pub struct Written {
    /// The records as last written.
    pub releases: Vec<Release>,
    /// The objects applied (for the inventory and events).
    pub changes: Vec<Change>,
    writes: std::collections::HashMap<i64, usize>,
}

impl Written {
    fn record(&mut self, release: &Release) {
        self.releases.retain(|r| r.version != release.version);
        self.releases.push(release.clone());
        *self.writes.entry(release.version).or_default() += 1;
    }

    /// How many times revision `version` was written (created, updated or
    /// deleted) by the action.
    pub fn writes_of(&self, version: i64) -> usize {
        self.writes.get(&version).copied().unwrap_or(0)
    }
}

async fn store_new(
    target: &Target<'_>,
    release: &Release,
    written: &mut Written,
) -> Result<(), String> {
    target.storage.create(release).await.map_err(|e| e.0)?;
    written.record(release);
    Ok(())
}

async fn store(
    target: &Target<'_>,
    release: &Release,
    written: &mut Written,
) -> Result<(), String> {
    target.storage.update(release).await.map_err(|e| e.0)?;
    written.record(release);
    Ok(())
}

/// Records that the release's objects were applied server-side (Helm v4's
/// `apply_method`, which Helm v4 and upstream's controller read to upgrade
/// and roll back the same way; Helm v3 ignores it).
fn mark_server_side(release: &mut Release) {
    release
        .extra
        .insert("apply_method".into(), Json::String("ssa".into()));
}

/// Installs `release` (rendered, status ignored) as its revision.
pub async fn install(
    target: &Target<'_>,
    mut release: Release,
    history: &[Release],
    create_namespace: bool,
    options: &Options,
    written: &mut Written,
) -> Result<(), String> {
    release.version = history.last().map_or(1, |r| r.version + 1);
    mark_server_side(&mut release);
    release.info.status = status::PENDING_INSTALL.into();
    release.info.description = "Initial install underway".into();
    if create_namespace {
        target.create_namespace().await?;
    }
    store_new(target, &release, written).await?;
    let result = async {
        let objects = target.defaulted(objects_of(&release.manifest)?).await?;
        target
            .run_hooks(&mut release.hooks, "pre-install", options)
            .await
            .map_err(|e| format!("failed pre-install: {e}"))?;
        let observed;
        (written.changes, observed) = target.apply(&objects).await?;
        if !options.disable_wait {
            target.wait(&objects, &observed, options).await?;
        }
        target
            .run_hooks(&mut release.hooks, "post-install", options)
            .await
            .map_err(|e| format!("failed post-install: {e}"))
    }
    .await;
    finish(
        target,
        release,
        result,
        written,
        |name, e| format!("Release {name:?} failed: {e}"),
        "Install complete",
    )
    .await
}

async fn finish(
    target: &Target<'_>,
    mut release: Release,
    result: Result<(), String>,
    written: &mut Written,
    failed: impl Fn(&str, &str) -> String,
    complete: &str,
) -> Result<(), String> {
    match result {
        Ok(()) => {
            release.info.status = status::DEPLOYED.into();
            release.info.description = complete.into();
            store(target, &release, written).await
        }
        Err(e) => {
            release.info.status = status::FAILED.into();
            release.info.description = failed(&release.name, &e);
            release.info.last_deployed = flux_helm::release::now();
            // The failure is what is reported, even if recording it fails.
            let _ = store(target, &release, written).await;
            Err(e)
        }
    }
}

/// Upgrades to `release` (rendered as revision last + 1).
pub async fn upgrade(
    target: &Target<'_>,
    mut release: Release,
    history: &[Release],
    options: &Options,
    written: &mut Written,
) -> Result<(), String> {
    let last = history.last().ok_or("no release to upgrade")?;
    release.version = last.version + 1;
    mark_server_side(&mut release);
    let current = history
        .iter()
        .rev()
        .find(|r| r.info.status == status::DEPLOYED)
        .cloned();
    if let Some(c) = &current {
        release.info.first_deployed = c.info.first_deployed.clone();
    }
    release.info.status = status::PENDING_UPGRADE.into();
    release.info.description = "Preparing upgrade".into();
    target
        .trim_history(history, options.max_history, written)
        .await?;
    store_new(target, &release, written).await?;
    let previous = match &current {
        Some(c) => objects_of(&c.manifest).unwrap_or_default(),
        None => objects_of(&last.manifest).unwrap_or_default(),
    };
    let mut created = Vec::new();
    let result = async {
        let objects = target.defaulted(objects_of(&release.manifest)?).await?;
        target
            .run_hooks(&mut release.hooks, "pre-upgrade", options)
            .await
            .map_err(|e| format!("pre-upgrade hooks failed: {e}"))?;
        let observed;
        (written.changes, observed) = target.apply(&objects).await?;
        created = objects
            .iter()
            .zip(&written.changes)
            .filter(|(_, c)| c.action == flux_runtime::ssa::Action::Created)
            .map(|(o, _)| o.clone())
            .collect();
        target
            .settle(&objects, &observed, previous, options)
            .await?;
        target
            .run_hooks(&mut release.hooks, "post-upgrade", options)
            .await
            .map_err(|e| format!("post-upgrade hooks failed: {e}"))
    }
    .await;
    if result.is_ok()
        && let Some(mut c) = current
    {
        c.info.status = status::SUPERSEDED.into();
        store(target, &c, written).await?;
    }
    if result.is_err() && options.cleanup_on_fail {
        let _ = target.delete(&created, None).await;
    }
    finish(
        target,
        release,
        result,
        written,
        |name, e| format!("Upgrade {name:?} failed: {e}"),
        "Upgrade complete",
    )
    .await
}

fn identity(object: &Json) -> (String, String, String, String) {
    let (api_version, kind, namespace, name) = key_of(object);
    let group = api_version
        .split_once('/')
        .map(|(g, _)| g.to_string())
        .unwrap_or_default();
    (group, kind, namespace, name)
}

/// Rolls back to revision `to` as a new revision (`Rollback to N`).
pub async fn rollback(
    target: &Target<'_>,
    to: &Release,
    history: &[Release],
    options: &Options,
    written: &mut Written,
) -> Result<(), String> {
    let last = history.last().ok_or("no release to roll back")?;
    let mut release = to.clone();
    release.version = last.version + 1;
    release.info.first_deployed = last.info.first_deployed.clone();
    let at = flux_helm::release::now();
    release.info.status = status::PENDING_ROLLBACK.into();
    release.info.description = format!("Rollback to {}", to.version);
    release.info.last_deployed = at;
    release.info.deleted = String::new();
    // The hooks come with their last runs, as Helm's rollback shares them
    // with the record it rolls back to; only the rollback hooks run again.
    target
        .trim_history(history, options.max_history, written)
        .await?;
    store_new(target, &release, written).await?;
    let result = async {
        let objects = target.defaulted(objects_of(&release.manifest)?).await?;
        target
            .run_hooks(&mut release.hooks, "pre-rollback", options)
            .await?;
        let observed;
        (written.changes, observed) = target.apply(&objects).await?;
        target
            .settle(
                &objects,
                &observed,
                objects_of(&last.manifest).unwrap_or_default(),
                options,
            )
            .await?;
        target
            .run_hooks(&mut release.hooks, "post-rollback", options)
            .await
    }
    .await;
    if result.is_ok() {
        // Helm v4 supersedes every deployed release (a failed newest one
        // stays failed).
        for r in history {
            if r.info.status == status::DEPLOYED
                && written.releases.iter().all(|w| w.version != r.version)
            {
                let mut r = r.clone();
                r.info.status = status::SUPERSEDED.into();
                store(target, &r, written).await?;
            }
        }
    }
    let description = release.info.description.clone();
    finish(
        target,
        release,
        result,
        written,
        |name, e| format!("Release {name:?} failed: {e}"),
        &description,
    )
    .await
}

/// Uninstalls the newest revision as Helm does: pre-delete hooks, the
/// record marked `uninstalling`, the objects deleted, post-delete hooks,
/// then the records purged (each seen as it was stored, as upstream's
/// storage observer sees a delete) or, with `keep_history`, the newest
/// kept as `uninstalled`.
pub async fn uninstall(
    target: &Target<'_>,
    history: &[Release],
    keep_history: bool,
    options: &Options,
    written: &mut Written,
) -> Result<(), String> {
    let Some(last) = history.last() else {
        return Ok(());
    };
    if last.info.status == status::UNINSTALLED {
        return Ok(());
    }
    let mut release = last.clone();
    release.info.status = status::UNINSTALLING.into();
    release.info.deleted = flux_helm::release::now();
    release.info.description = "Deletion in progress (or silently failed)".into();
    target
        .run_hooks(&mut release.hooks, "pre-delete", options)
        .await?;
    store(target, &release, written).await?;
    let objects = target
        .defaulted_with(objects_of(&release.manifest).unwrap_or_default(), true)
        .await?;
    let wait = (!options.disable_wait).then_some(options.timeout);
    target.delete(&objects, wait).await?;
    target
        .run_hooks(&mut release.hooks, "post-delete", options)
        .await?;
    if keep_history {
        release.info.status = status::UNINSTALLED.into();
        release.info.description = "Uninstallation complete".into();
        return store(target, &release, written).await;
    }
    for r in history {
        let stored = if r.version == release.version {
            &release
        } else {
            r
        };
        target.storage.delete(stored).await.map_err(|e| e.0)?;
        written.record(stored);
    }
    Ok(())
}

/// `helm test`: runs the release's test hooks (those `filters` select:
/// `(name, exclude)`), records their last runs in the release record —
/// also when one failed — and reports the first failure.
pub async fn test(
    target: &Target<'_>,
    mut release: Release,
    filters: &[(String, bool)],
    options: &Options,
    written: &mut Written,
) -> Result<(), String> {
    let includes: Vec<&str> = filters
        .iter()
        .filter(|f| !f.1)
        .map(|f| f.0.as_str())
        .collect();
    let excludes: Vec<&str> = filters
        .iter()
        .filter(|f| f.1)
        .map(|f| f.0.as_str())
        .collect();
    let selected = |h: &StoredHook| {
        !excludes.contains(&h.hook.name.as_str())
            && (includes.is_empty() || includes.contains(&h.hook.name.as_str()))
    };
    let mut run: Vec<StoredHook> = release
        .hooks
        .iter()
        .filter(|h| selected(h))
        .cloned()
        .collect();
    let result = target.run_hooks(&mut run, "test", options).await;
    for done in run {
        if let Some(h) = release
            .hooks
            .iter_mut()
            .find(|h| h.hook.name == done.hook.name && h.hook.kind == done.hook.kind)
        {
            h.last_run = done.last_run;
        }
    }
    store(target, &release, written).await?;
    result
}

/// Marks a release left in a `pending-*` state as failed.
pub async fn unlock(
    target: &Target<'_>,
    mut release: Release,
    written: &mut Written,
) -> Result<(), String> {
    let was = release.info.status.clone();
    release.info.status = status::FAILED.into();
    release.info.description = format!("Release unlocked from stale '{was}' state");
    store(target, &release, written).await
}
