//! Random kustomization trees (a base, sometimes an overlay and a
//! component) built by flux-kustomize and by `kustomize build`: outputs
//! must be identical, and a tree one side refuses the other must refuse.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use super::{Difference, Files, Outcome, Rng, run_trees};

const NAMES: &[&str] = &["web", "api", "db", "cache", "worker", "app-config", "creds"];
const NAMESPACES: &[&str] = &["prod", "staging", "team-a"];
const IMAGES: &[&str] = &[
    "nginx",
    "nginx:1.25",
    "ghcr.io/org/api:v2",
    "redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "registry.local:5000/tools/worker:latest",
    "busybox",
];
/// Scalars as real manifests write them: strings that look like other
/// types, empty values, nulls of every spelling, block scalars.
const SCALARS: &[&str] = &[
    "plain",
    "\"quoted\"",
    "'single'",
    "\"1.50\"",
    "1.50",
    "0755",
    "0x1F",
    "true",
    "\"true\"",
    "yes",
    "~",
    "null",
    "",
    "\"\"",
    "1e3",
    "-1",
    "\"a: b\"",
    "héllo",
    "|\n      line one\n      line two",
    ">-\n      folded\n      text",
];
const KEYS: &[&str] = &[
    "app",
    "tier",
    "team",
    "version",
    "note",
    "example.com/owner",
];

struct Tree {
    files: Vec<(String, Vec<u8>)>,
}

impl Tree {
    fn add(&mut self, path: &str, text: String) {
        self.files.push((path.to_string(), text.into_bytes()));
    }
}

fn scalar(r: &mut Rng) -> String {
    r.pick(SCALARS).to_string()
}

/// 1 to `max` entries.
fn map_block(r: &mut Rng, indent: usize, max: usize) -> String {
    let pad = " ".repeat(indent);
    let count = 1 + r.below(max);
    let mut out = String::new();
    for _ in 0..count {
        let _ = writeln!(out, "{pad}{}: {}", r.pick(KEYS), scalar(r));
    }
    // Repeated keys are an error in both; keep the first of each.
    let mut seen = Vec::new();
    out.lines()
        .filter(|l| {
            let k = l.split(':').next().unwrap_or_default().to_string();
            if seen.contains(&k) {
                false
            } else {
                seen.push(k);
                true
            }
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn metadata(r: &mut Rng, name: &str) -> String {
    let mut m = format!("metadata:\n  name: {name}\n");
    if r.chance(20) {
        let _ = writeln!(m, "  namespace: {}", r.pick(NAMESPACES));
    }
    if r.chance(50) {
        m.push_str("  labels:\n");
        m.push_str(&map_block(r, 4, 3));
    }
    if r.chance(40) {
        m.push_str("  annotations:\n");
        m.push_str(&map_block(r, 4, 3));
    }
    m
}

fn pod_spec(r: &mut Rng, indent: usize) -> String {
    let p = " ".repeat(indent);
    let mut s = format!("{p}containers:\n");
    for i in 0..1 + r.below(2) {
        let _ = writeln!(s, "{p}- name: c{i}\n{p}  image: {}", r.pick(IMAGES));
        if r.chance(50) {
            let _ = writeln!(
                s,
                "{p}  env:\n{p}  - name: MODE\n{p}    value: {}\n{p}  - name: CONF\n{p}    valueFrom:\n{p}      configMapKeyRef:\n{p}        name: app-config\n{p}        key: mode",
                scalar(r)
            );
        }
        if r.chance(30) {
            let _ = writeln!(s, "{p}  envFrom:\n{p}  - secretRef:\n{p}      name: creds");
        }
        if r.chance(30) {
            let _ = writeln!(
                s,
                "{p}  resources:{}",
                r.pick(&["", " {}", "\n{p}    limits:\n{p}      cpu: 100m"])
                    .replace("{p}", &p)
            );
        }
        if r.chance(20) {
            let _ = writeln!(
                s,
                "{p}  args: [\"--x\", {}]",
                r.pick(&["null", "\"1\"", "2", "\"\""])
            );
        }
    }
    if r.chance(40) {
        let _ = writeln!(
            s,
            "{p}volumes:\n{p}- name: conf\n{p}  configMap:\n{p}    name: app-config\n{p}- name: data\n{p}  persistentVolumeClaim:\n{p}    claimName: data"
        );
    }
    if r.chance(30) {
        let _ = writeln!(
            s,
            "{p}affinity:\n{p}  nodeAffinity:\n{p}    requiredDuringSchedulingIgnoredDuringExecution:{}",
            r.pick(&["", " ~", " null"])
        );
    }
    if r.chance(20) {
        let _ = writeln!(
            s,
            "{p}nodeSelector:{}",
            r.pick(&["", " {}", " {a: }", " ~"])
        );
    }
    if r.chance(20) {
        let _ = writeln!(s, "{p}serviceAccountName: {}", r.pick(NAMES));
    }
    s
}

fn resource(r: &mut Rng, name: &str, workloads: &mut Vec<String>) -> String {
    match r.below(10) {
        0..=2 => {
            let kind = *r.pick(&["Deployment", "StatefulSet", "DaemonSet"]);
            if kind != "DaemonSet" {
                workloads.push(name.to_string());
            }
            let mut s = format!("apiVersion: apps/v1\nkind: {kind}\n{}", metadata(r, name));
            s.push_str("spec:\n");
            if r.chance(60) {
                let _ = writeln!(s, "  replicas: {}", r.below(4));
            }
            let _ = writeln!(
                s,
                "  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:"
            );
            s.push_str(&pod_spec(r, 6));
            s
        }
        3 => format!(
            "apiVersion: v1\nkind: Service\n{}spec:\n  selector:\n    app: {name}\n  ports:\n  - port: {}\n    targetPort: {}\n",
            metadata(r, name),
            r.pick(&["80", "443", "8080"]),
            r.pick(&["http", "8080", "\"9000\""])
        ),
        4 => {
            let mut s = format!(
                "apiVersion: v1\nkind: ConfigMap\n{}data:\n",
                metadata(r, name)
            );
            s.push_str(
                &map_block(r, 2, 3)
                    .replace(": ~\n", ": \"\"\n")
                    .replace(": null\n", ": x\n"),
            );
            let _ = writeln!(s, "  mode: {}", r.pick(&["fast", "\"1\"", "slow"]));
            s
        }
        5 => format!(
            "apiVersion: v1\nkind: Secret\n{}type: Opaque\nstringData:\n  password: {}\n",
            metadata(r, name),
            r.pick(&["s3cr3t", "\"123\"", "x"])
        ),
        6 => format!(
            "apiVersion: batch/v1\nkind: CronJob\n{}spec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n{}",
            metadata(r, name),
            pod_spec(r, 10)
        ),
        7 => format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\n{}spec:\n  rules:\n  - host: {name}.example.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: {}\n            port:\n              number: 80\n",
            metadata(r, name),
            r.pick(NAMES)
        ),
        8 => format!(
            "apiVersion: example.com/v1\nkind: Widget\n{}spec:\n  size: {}\n  parts:\n  - name: a\n    weight: {}\n  ref:\n    name: {}\n",
            metadata(r, name),
            scalar(r),
            scalar(r),
            r.pick(NAMES)
        ),
        _ => format!(
            "apiVersion: v1\nkind: {}\n{}",
            r.pick(&["ServiceAccount", "PersistentVolumeClaim", "Namespace"]),
            metadata(r, name)
        ),
    }
}

/// Field names of kustomization files match in any case: sometimes spell
/// one another way.
fn field(r: &mut Rng, name: &str) -> String {
    if r.chance(5) {
        name.to_lowercase()
    } else {
        name.to_string()
    }
}

/// A kustomization's transformations (not its resources).
fn transforms(r: &mut Rng, names: &[String], workloads: &[String], out: &mut String) {
    if r.chance(25) {
        let _ = writeln!(out, "{}: {}", field(r, "namespace"), r.pick(NAMESPACES));
    }
    if r.chance(25) {
        let _ = writeln!(out, "{}: pre-", field(r, "namePrefix"));
    }
    if r.chance(15) {
        let _ = writeln!(out, "{}: -suf", field(r, "nameSuffix"));
    }
    if r.chance(20) {
        let value = *r.pick(&["x", "\"1.50\"", "\"true\"", "\"\"", "v1"]);
        let _ = writeln!(out, "{}:\n  tier: {value}", field(r, "commonLabels"));
    }
    if r.chance(20) {
        let _ = writeln!(
            out,
            "labels:\n- pairs:\n    env: {}\n  includeSelectors: {}\n  includeTemplates: {}",
            r.pick(&["prod", "\"1\"", "dev"]),
            r.pick(&["true", "false"]),
            r.pick(&["true", "false"])
        );
    }
    if r.chance(20) {
        let _ = writeln!(
            out,
            "commonAnnotations:\n  note: {}",
            r.pick(&["\"1.50\"", "x", "\"true\"", "\"\""])
        );
    }
    if r.chance(25) {
        let _ = writeln!(
            out,
            "images:\n- name: {}\n  {}",
            r.pick(&["nginx", "busybox", "redis", "ghcr.io/org/api"]),
            r.pick(&[
                "newTag: \"1.27\"",
                "newName: mirror.local/nginx",
                "digest: sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
                "newName: x\n  newTag: v1",
            ])
        );
    }
    if r.chance(15) && !workloads.is_empty() {
        let _ = writeln!(
            out,
            "replicas:\n- name: {}\n  count: {}",
            r.pick(workloads),
            r.below(5)
        );
    }
    let generated = r.pick(&["app-config", "gen"]).to_string();
    let generates = r.chance(30);
    if generates {
        let _ = writeln!(
            out,
            "configMapGenerator:\n- name: {}\n  literals:\n  - mode={}\n  - EMPTY=\n{}",
            generated,
            r.pick(&["fast", "slow", "1"]),
            r.pick(&[
                "",
                "  behavior: merge\n",
                "  behavior: replace\n",
                "  options:\n    disableNameSuffixHash: true\n",
            ])
        );
    }
    if r.chance(15) {
        let _ = writeln!(
            out,
            "secretGenerator:\n- name: creds\n  literals:\n  - password=p{}",
            r.below(9)
        );
    }
    if r.chance(10) {
        let _ = writeln!(
            out,
            "generatorOptions:\n  disableNameSuffixHash: {}",
            r.pick(&["true", "false"])
        );
    }
    let mut patches = Vec::new();
    for _ in 0..r.below(3) {
        let target = r.pick(names).clone();
        patches.push(match r.below(5) {
            0 => format!(
                "- patch: |\n    - op: {}\n      path: {}\n      value: {}\n  target:\n    kind: {}",
                r.pick(&["add", "replace"]),
                r.pick(&["/spec/replicas", "/metadata/labels/patched", "/metadata/annotations/x"]),
                r.pick(&["3", "\"v\"", "null"]),
                r.pick(&["Deployment", "StatefulSet", "ConfigMap", "Widget"])
            ),
            1 if r.chance(30) => format!(
                "- patch: |\n    - op: remove\n      path: {}\n  target:\n    name: {target}",
                r.pick(&["/metadata/labels", "/spec/replicas", "/data"])
            ),
            1 | 2 => format!(
                "- patch: |\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: {target}\n    spec:\n      replicas: {}\n      template:\n        spec:\n          containers:\n          - name: c0\n            image: patched:1\n  target:\n    kind: {}",
                r.below(4),
                r.pick(&["Deployment", "StatefulSet|DaemonSet", "Deployment\n    name: web"])
            ),
            _ => format!(
                "- patch: |\n    kind: any\n    metadata:\n      name: any\n      labels:\n        patched: \"yes\"\n      annotations:\n        v: {}\n  target:\n    labelSelector: app={target}",
                r.pick(&["1.50", "\"x\"", "~"])
            ),
        });
    }
    if !patches.is_empty() {
        let _ = writeln!(out, "patches:\n{}", patches.join("\n"));
    }
    if generates && r.chance(40) {
        let _ = writeln!(
            out,
            "replacements:\n- source:\n    kind: ConfigMap\n    name: {generated}\n    fieldPath: data.{}",
            r.pick(&["mode", "EMPTY"])
        );
        let _ = writeln!(
            out,
            "  targets:\n  - select:\n      kind: Deployment\n    fieldPaths:\n    - spec.template.metadata.annotations.mode\n    options:\n      create: true"
        );
    }
    if r.chance(10) {
        let _ = writeln!(
            out,
            "sortOptions:\n  order: {}",
            r.pick(&["legacy", "fifo"])
        );
    }
}

fn case(seed: u64, i: usize) -> Files {
    let r = &mut Rng::fork(seed, i);
    let mut tree = Tree { files: Vec::new() };
    let mut names: Vec<String> = Vec::new();
    let mut workloads: Vec<String> = Vec::new();
    let mut base = String::from("resources:\n");
    for f in 0..1 + r.below(3) {
        let mut docs = Vec::new();
        for _ in 0..1 + r.below(3) {
            // Names are unique in a build (kustomize refuses repeated ids).
            let mut name = r.pick(NAMES).to_string();
            if names.contains(&name) {
                name = format!("{name}-{}", names.len());
            }
            docs.push(resource(r, &name, &mut workloads));
            names.push(name);
        }
        let file = format!("r{f}.yaml");
        tree.add(&format!("base/{file}"), docs.join("---\n"));
        let _ = writeln!(base, "- {file}");
    }
    let with_component = r.chance(20);
    if with_component {
        let mut comp =
            String::from("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n");
        transforms(r, &names, &workloads, &mut comp);
        tree.add("comp/kustomization.yaml", comp);
    }
    transforms(r, &names, &workloads, &mut base);
    // The overlay, when there is one, is what gets built.
    if r.chance(40) {
        let mut overlay = String::from("resources:\n- ../base\n");
        if with_component {
            overlay.push_str("components:\n- ../comp\n");
        }
        transforms(r, &names, &workloads, &mut overlay);
        tree.add("overlay/kustomization.yaml", overlay);
    } else if with_component {
        base.push_str("components:\n- ../comp\n");
    }
    tree.add("base/kustomization.yaml", base);
    tree.files
}

/// Both sides' outcome for the tree in `dir`: the overlay when there is
/// one, else the base.
fn build_both(dir: &Path) -> Result<(Outcome, Outcome), String> {
    let target = if dir.join("overlay").exists() {
        dir.join("overlay")
    } else {
        dir.join("base")
    };
    let kustomize = flux_testenv::tool("kustomize").map_err(|e| e.to_string())?;
    let out = Command::new(&kustomize)
        .arg("build")
        .arg(&target)
        .output()
        .map_err(|e| format!("running kustomize: {e}"))?;
    let theirs = if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let ours = flux_kustomize::build(
        &flux_kustomize::DiskFs,
        &target,
        &flux_kustomize::Options::default(),
    )
    .map_err(|e| e.to_string())
    .and_then(|m| m.to_yaml().map_err(|e| e.to_string()));
    Ok((theirs, ours))
}

pub fn run(cases: usize, seed: u64) -> Result<Vec<Difference>, String> {
    run_trees("kustomize", cases, seed, &case, &build_both, 20)
}
