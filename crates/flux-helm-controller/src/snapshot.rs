//! `status.history`: snapshots of the releases the controller made, with
//! upstream's digest (`internal/release/observation.go`), so that a release
//! changed behind Flux's back is noticed and a history written by upstream's
//! controller verifies here (and ours there).
//!
//! The digest is `sha256:` over Go's `json.Encoder` output (a trailing
//! newline, HTML characters escaped) of the observation: `name`,
//! `version`, `info` (Helm v4's: zero times left out), `chartMetadata`,
//! `config`, `manifest`, `hooks` (test hooks removed; Helm v4's hook JSON),
//! `namespace` and `ociDigest` when there is one.

use flux_api::helm::v2::{ReleaseAction, Snapshot, TestHookStatus};
use flux_helm::release::{Release, StoredHook, go_json_text, sorted};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Map, Value as Json};

/// The snapshot API version whose digests are verified.
pub const SNAPSHOT_API_VERSION: &str = "v2";

/// Whether a hook runs for `helm test`.
pub fn is_test_hook(hook: &StoredHook) -> bool {
    hook.hook.events.iter().any(|e| e == "test")
}

fn hook_json(h: &StoredHook) -> Json {
    let s = |x: &str| Json::String(x.to_string());
    let k = &h.hook;
    let mut o = Map::new();
    if !k.name.is_empty() {
        o.insert("name".into(), s(&k.name));
    }
    if !k.kind.is_empty() {
        o.insert("kind".into(), s(&k.kind));
    }
    if !k.path.is_empty() {
        o.insert("path".into(), s(&k.path));
    }
    if !k.manifest.is_empty() {
        o.insert("manifest".into(), s(&k.manifest));
    }
    let list = |x: &[String]| Json::Array(x.iter().map(|i| s(i)).collect());
    if !k.events.is_empty() {
        o.insert("events".into(), list(&k.events));
    }
    // Helm v4's HookExecution: zero times left out, the phase always.
    let mut run = Map::new();
    let (started, completed, phase) = &h.last_run;
    if !started.is_empty() {
        run.insert("started_at".into(), s(started));
    }
    if !completed.is_empty() {
        run.insert("completed_at".into(), s(completed));
    }
    run.insert("phase".into(), s(phase));
    o.insert("last_run".into(), Json::Object(run));
    if k.weight != 0 {
        o.insert("weight".into(), Json::from(k.weight));
    }
    if !k.delete_policies.is_empty() {
        o.insert("delete_policies".into(), list(&k.delete_policies));
    }
    if !k.output_log_policies.is_empty() {
        o.insert("output_log_policies".into(), list(&k.output_log_policies));
    }
    Json::Object(o)
}

/// The observation's JSON text, as upstream's `Observation.Encode` writes
/// it (with the trailing newline).
pub fn observation_json(release: &Release, oci_digest: Option<&str>) -> String {
    let s = |x: &str| Json::String(x.to_string());
    let mut info = Map::new();
    let i = &release.info;
    for (key, value) in [
        ("first_deployed", &i.first_deployed),
        ("last_deployed", &i.last_deployed),
        ("deleted", &i.deleted),
    ] {
        if !value.is_empty() {
            info.insert(key.into(), s(value));
        }
    }
    for (key, value) in [
        ("description", &i.description),
        ("status", &i.status),
        ("notes", &i.notes),
    ] {
        if !value.is_empty() {
            info.insert(key.into(), s(value));
        }
    }
    for (k, v) in &i.extra {
        info.insert(k.clone(), v.clone());
    }
    let metadata = release
        .chart
        .get("metadata")
        .filter(|m| m.is_object())
        .cloned()
        .unwrap_or_else(|| Json::Object(Map::new()));
    let hooks: Vec<Json> = release
        .hooks
        .iter()
        .filter(|h| !is_test_hook(h))
        .map(hook_json)
        .collect();
    let mut o = Map::new();
    o.insert("name".into(), s(&release.name));
    o.insert("version".into(), Json::from(release.version));
    o.insert("info".into(), Json::Object(info));
    o.insert("chartMetadata".into(), metadata);
    o.insert(
        "config".into(),
        if release.config.is_empty() {
            Json::Null
        } else {
            sorted(&Json::Object(release.config.clone()))
        },
    );
    o.insert("manifest".into(), s(&release.manifest));
    o.insert(
        "hooks".into(),
        if hooks.is_empty() {
            Json::Null
        } else {
            Json::Array(hooks)
        },
    );
    o.insert("namespace".into(), s(&release.namespace));
    if let Some(d) = oci_digest.filter(|d| !d.is_empty()) {
        o.insert("ociDigest".into(), s(d));
    }
    let mut text = go_json_text(&Json::Object(o));
    text.push('\n');
    text
}

/// The digest of a release's observation.
pub fn digest(release: &Release, oci_digest: Option<&str>) -> String {
    flux_artifact::Digest::of(observation_json(release, oci_digest).as_bytes()).to_string()
}

fn time_of(text: &str) -> Option<Time> {
    text.parse::<k8s_openapi::jiff::Timestamp>().ok().map(Time)
}

fn chart_field<'a>(release: &'a Release, key: &str) -> &'a str {
    release
        .chart
        .get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Json::as_str)
        .unwrap_or_default()
}

/// The chart name of a release.
pub fn chart_name(release: &Release) -> &str {
    chart_field(release, "name")
}

/// The chart version of a release.
pub fn chart_version(release: &Release) -> &str {
    chart_field(release, "version")
}

/// The snapshot of `release` (upstream's `ObservedToSnapshot`).
pub fn snapshot(
    release: &Release,
    action: Option<ReleaseAction>,
    oci_digest: Option<&str>,
) -> Snapshot {
    let app_version = chart_field(release, "appVersion");
    Snapshot {
        api_version: Some(SNAPSHOT_API_VERSION.to_string()),
        digest: digest(release, oci_digest),
        name: release.name.clone(),
        namespace: release.namespace.clone(),
        version: release.version,
        status: release.info.status.clone(),
        chart_name: chart_name(release).to_string(),
        chart_version: chart_version(release).to_string(),
        app_version: (!app_version.is_empty()).then(|| app_version.to_string()),
        config_digest: crate::values::digest(&release.config),
        first_deployed: time_of(&release.info.first_deployed).unwrap_or_else(epoch),
        last_deployed: time_of(&release.info.last_deployed).unwrap_or_else(epoch),
        deleted: time_of(&release.info.deleted),
        test_hooks: None,
        oci_digest: oci_digest.filter(|d| !d.is_empty()).map(str::to_string),
        action: action.and_then(|a| {
            serde_json::to_value(a)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
        }),
    }
}

fn epoch() -> Time {
    Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
}

/// The test hooks of a release and their last runs (`testHooks`).
pub fn test_hooks(release: &Release) -> std::collections::BTreeMap<String, TestHookStatus> {
    release
        .hooks
        .iter()
        .filter(|h| is_test_hook(h))
        .map(|h| {
            let (started, completed, phase) = &h.last_run;
            (
                h.hook.name.clone(),
                TestHookStatus {
                    last_started: time_of(started),
                    last_completed: time_of(completed),
                    phase: (!phase.is_empty()).then(|| phase.clone()),
                },
            )
        })
        .collect()
}

/// Whether `snapshot` describes `release` exactly (its digest verifies).
/// Snapshots of an older API version are trusted (upstream's migration).
pub fn verifies(snapshot: &Snapshot, release: &Release) -> bool {
    if snapshot.api_version.as_deref() != Some(SNAPSHOT_API_VERSION) {
        return true;
    }
    snapshot.digest == digest(release, snapshot.oci_digest.as_deref())
}

/// Whether `snapshot` is of the release `name`/`namespace`, revision
/// `version`.
pub fn targets(snapshot: &Snapshot, name: &str, namespace: &str, version: i64) -> bool {
    snapshot.name == name && snapshot.namespace == namespace && snapshot.version == version
}

/// `ns/name.vN`
pub fn full_release_name(snapshot: &Snapshot) -> String {
    format!(
        "{}/{}.v{}",
        snapshot.namespace, snapshot.name, snapshot.version
    )
}

/// `name@version`
pub fn versioned_chart_name(snapshot: &Snapshot) -> String {
    format!("{}@{}", snapshot.chart_name, snapshot.chart_version)
}

/// Whether a snapshot has a failed test.
pub fn has_test_in_phase(snapshot: &Snapshot, phase: &str) -> bool {
    snapshot
        .test_hooks
        .as_ref()
        .is_some_and(|h| h.values().any(|t| t.phase.as_deref() == Some(phase)))
}

/// Truncates the history of an in-sync release (upstream's
/// `Snapshots.Truncate`): newest first, keep up to and including the newest
/// previous `deployed`/`superseded` release without a failed test (unless
/// those are ignored); without one, keep the newest 5.
pub fn truncate(history: &mut Vec<Snapshot>, ignore_test_failures: bool) {
    if history.len() < 2 {
        return;
    }
    history.sort_by_key(|s| std::cmp::Reverse(s.version));
    let keep = history
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, s)| {
            matches!(s.status.as_str(), "deployed" | "superseded")
                && (ignore_test_failures || !has_test_in_phase(s, "Failed"))
        })
        .map_or(5, |(i, _)| i + 1);
    history.truncate(keep);
}

/// Truncates only to the cap (with `RetryOnFailure`).
pub fn truncate_ignoring_previous(history: &mut Vec<Snapshot>) {
    history.sort_by_key(|s| std::cmp::Reverse(s.version));
    history.truncate(5);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release() -> Release {
        let json = r#"{"name":"podinfo","info":{"first_deployed":"2026-12-07T10:00:00.123456789Z","last_deployed":"2026-12-07T10:00:00.123456789Z","deleted":"","description":"Install complete","status":"deployed","notes":"a <note> & more"},"chart":{"metadata":{"name":"podinfo","version":"6.5.0","appVersion":"6.5.0","apiVersion":"v2"},"lock":null,"templates":[],"values":{},"schema":null,"files":[]},"config":{"b":1,"a":{"z":true,"y":"x"}},"manifest":"---\n# Source: a\nkind: ConfigMap\n","hooks":[{"name":"t","kind":"Pod","path":"p","manifest":"m","events":["test"],"last_run":{"started_at":"","completed_at":"","phase":""}},{"name":"h","kind":"Job","path":"q","manifest":"n","events":["pre-install"],"last_run":{"started_at":"","completed_at":"","phase":""},"weight":-1}],"version":1,"namespace":"apps"}"#;
        Release::from_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn observation_as_upstream_encodes_it() {
        let text = observation_json(&release(), Some("sha256:abc"));
        assert_eq!(
            text,
            concat!(
                r#"{"name":"podinfo","version":1,"info":{"first_deployed":"2026-12-07T10:00:00.123456789Z","last_deployed":"2026-12-07T10:00:00.123456789Z","description":"Install complete","status":"deployed","notes":"a \u003cnote\u003e \u0026 more"},"#,
                r#""chartMetadata":{"name":"podinfo","version":"6.5.0","appVersion":"6.5.0","apiVersion":"v2"},"config":{"a":{"y":"x","z":true},"b":1},"#,
                r#""manifest":"---\n# Source: a\nkind: ConfigMap\n","hooks":[{"name":"h","kind":"Job","path":"q","manifest":"n","events":["pre-install"],"last_run":{"phase":""},"weight":-1}],"namespace":"apps","ociDigest":"sha256:abc"}"#,
                "\n"
            )
        );
    }

    #[test]
    fn a_changed_release_no_longer_verifies() {
        let r = release();
        let snap = snapshot(&r, Some(ReleaseAction::Install), None);
        assert_eq!(snap.chart_name, "podinfo");
        assert_eq!(snap.action.as_deref(), Some("install"));
        assert!(verifies(&snap, &r));
        let mut changed = r.clone();
        changed.manifest.push_str("data: {}\n");
        assert!(!verifies(&snap, &changed));
        // A snapshot written before digests were versioned is trusted.
        let legacy = Snapshot {
            api_version: None,
            ..snap
        };
        assert!(verifies(&legacy, &changed));
    }

    #[test]
    fn truncation_keeps_the_previous_good_release() {
        let snap = |v: i64, status: &str| Snapshot {
            version: v,
            status: status.into(),
            ..snapshot(&release(), None, None)
        };
        let mut h = vec![
            snap(4, "deployed"),
            snap(3, "failed"),
            snap(2, "superseded"),
            snap(1, "superseded"),
        ];
        truncate(&mut h, false);
        assert_eq!(h.iter().map(|s| s.version).collect::<Vec<_>>(), [4, 3, 2]);
        let mut long: Vec<Snapshot> = (1..=8).rev().map(|v| snap(v, "failed")).collect();
        truncate(&mut long, false);
        assert_eq!(long.len(), 5);
    }
}
