//! `flux create image repository|policy|update`: the objects upstream's
//! `flux` writes for the same flags, with its checks and messages.

use serde_json::{Value, json};

use crate::cli::{
    CreateCommon, CreateImagePolicyArgs, CreateImageRepositoryArgs, CreateImageUpdateArgs,
};
use crate::client::Error;

/// The ImageRepository `flux create image repository` writes.
pub fn repository(namespace: &str, args: &CreateImageRepositoryArgs) -> Result<Value, Error> {
    if args.image.is_empty() {
        return Err("an image repository (--image) is required".into());
    }
    check_repository(&args.image)?;
    let mut spec = json!({
        "image": args.image,
        "interval": super::create::interval(&args.common.interval)?,
    });
    if let Some(t) = args.scan_timeout.as_deref().filter(|t| !t.is_empty()) {
        let t = super::create::interval(t)?;
        if t != "0s" {
            spec["timeout"] = json!(t);
        }
    }
    if !args.secret_ref.is_empty() {
        spec["secretRef"] = json!({"name": args.secret_ref});
    }
    if !args.cert_ref.is_empty() {
        spec["certSecretRef"] = json!({"name": args.cert_ref});
    }
    Ok(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImageRepository",
        "metadata": super::create::metadata(&args.name, namespace, &args.common)?,
        "spec": spec,
    }))
}

/// go-containerregistry's `name.NewRepository` check, with its message:
/// the repository part (after a registry host, when the first part is
/// one) holds only lower-case letters, digits and `_-./`.
fn check_repository(image: &str) -> Result<(), Error> {
    let repository = match image.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => image,
    };
    let valid = !repository.is_empty()
        && repository
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-./".contains(&b));
    if !valid {
        return Err(format!(
            "unable to parse image value: repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: {repository}"
        )
        .into());
    }
    Ok(())
}

/// The capture group names of a Go regular expression, `None` when it
/// does not compile.
fn capture_names(pattern: &str) -> Option<Vec<String>> {
    let translated = flux_go::regexp::translate(pattern).ok()?;
    let regex = regex::Regex::new(&translated).ok()?;
    Some(
        regex
            .capture_names()
            .flatten()
            .map(str::to_string)
            .collect(),
    )
}

/// Upstream's check of `--filter-extract`: every `$name` must be a group
/// of `--filter-regex` (numbers are not checked).
fn validate_extract(template: &str, names: &[String]) -> Result<(), Error> {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix("$$") {
            rest = after;
            continue;
        }
        let body = &rest[1..];
        let (name, after) = match body.strip_prefix('{') {
            Some(braced) => match braced.find('}') {
                Some(end) if end > 0 => (&braced[..end], &braced[end + 1..]),
                _ => return Err("--filter-extract is malformed".into()),
            },
            None => {
                let end = body
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(body.len());
                if end == 0 {
                    return Err("--filter-extract is malformed".into());
                }
                (&body[..end], &body[end..])
            }
        };
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err("--filter-extract is malformed".into());
        }
        rest = after;
        if name.parse::<u64>().is_err() && !names.iter().any(|n| n == name) {
            return Err(format!(
                "capture group ${name} used in --filter-extract not found in --filter-regex"
            )
            .into());
        }
    }
    Ok(())
}

/// The ImagePolicy `flux create image policy` writes.
pub fn policy(namespace: &str, args: &CreateImagePolicyArgs) -> Result<Value, Error> {
    if args.image_ref.is_empty() {
        return Err(
            "the name of an ImageRepository in the namespace is required (--image-ref)".into(),
        );
    }
    let common = CreateCommon {
        export: args.export,
        interval: String::new(),
        labels: args.labels.clone(),
    };
    let chosen = [&args.semver, &args.alpha, &args.numeric]
        .iter()
        .filter(|v| !v.is_empty())
        .count();
    if chosen > 1 {
        return Err(
            "only one of --select-semver, --select-alpha or --select-numeric can be specified"
                .into(),
        );
    }
    let order = |flag: &str, value: &str| -> Result<Value, Error> {
        if value != "asc" && value != "desc" {
            return Err(format!("--{flag} must be one of [\"asc\", \"desc\"]").into());
        }
        Ok(json!({"order": value}))
    };
    let policy = if !args.semver.is_empty() {
        json!({"semver": {"range": args.semver}})
    } else if !args.alpha.is_empty() {
        json!({"alphabetical": order("select-alpha", &args.alpha)?})
    } else if !args.numeric.is_empty() {
        json!({"numerical": order("select-numeric", &args.numeric)?})
    } else {
        return Err(
            "a policy must be provided with either --select-semver or --select-alpha".into(),
        );
    };
    let mut spec = json!({"imageRepositoryRef": {"name": args.image_ref}, "policy": policy});
    if !args.filter_regex.is_empty() {
        let Some(names) = capture_names(&args.filter_regex) else {
            return Err("--filter-regex is an invalid regex pattern".into());
        };
        spec["filterTags"] = json!({"pattern": args.filter_regex});
        if !args.filter_extract.is_empty() {
            validate_extract(&args.filter_extract, &names)?;
            spec["filterTags"]["extract"] = json!(args.filter_extract);
        }
    } else if !args.filter_extract.is_empty() {
        return Err("cannot specify --filter-extract without specifying --filter-regex".into());
    }
    if !args.reflect_digest.is_empty() {
        if !["Never", "IfNotPresent", "Always"].contains(&args.reflect_digest.as_str()) {
            return Err(
                "invalid value for --reflect-digest, must be one of 'Never', 'IfNotPresent', 'Always'"
                    .into(),
            );
        }
        spec["digestReflectionPolicy"] = json!(args.reflect_digest);
    }
    if let Some(i) = args.interval.as_deref().filter(|i| !i.is_empty()) {
        let i = super::create::interval(i)?;
        if i != "0s" {
            if args.reflect_digest != "Always" {
                return Err("the --interval flag can only be used with the 'Always' digest reflection policy, use --reflect-digest=Always".into());
            }
            spec["interval"] = json!(i);
        }
    }
    Ok(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImagePolicy",
        "metadata": super::create::metadata(&args.name, namespace, &common)?,
        "spec": spec,
    }))
}

/// The ImageUpdateAutomation `flux create image update` writes.
pub fn update(namespace: &str, args: &CreateImageUpdateArgs) -> Result<Value, Error> {
    for (value, message) in [
        (
            &args.git_repo_ref,
            "a reference to a GitRepository is required (--git-repo-ref)",
        ),
        (
            &args.checkout_branch,
            "the Git repository branch is required (--checkout-branch)",
        ),
        (
            &args.author_name,
            "the author name is required (--author-name)",
        ),
        (
            &args.author_email,
            "the author email is required (--author-email)",
        ),
    ] {
        if value.is_empty() {
            return Err(message.into());
        }
    }
    if !args.signing_key_type.is_empty() {
        if args.signing_key_secret.is_empty() {
            return Err("--signing-key-type requires --signing-key-secret".into());
        }
        if args.signing_key_type != "gpg" && args.signing_key_type != "ssh" {
            return Err("--signing-key-type must be one of: gpg, ssh".into());
        }
    }
    let mut source_ref = json!({"kind": "GitRepository", "name": args.git_repo_ref});
    if !args.git_repo_namespace.is_empty() {
        source_ref["namespace"] = json!(args.git_repo_namespace);
    }
    let mut commit = json!({"author": {"name": args.author_name, "email": args.author_email}});
    if !args.commit_template.is_empty() {
        commit["messageTemplate"] = json!(args.commit_template);
    }
    if !args.signing_key_secret.is_empty() {
        commit["signingKey"] = json!({"secretRef": {"name": args.signing_key_secret}});
        if !args.signing_key_type.is_empty() {
            commit["signingKey"]["type"] = json!(args.signing_key_type);
        }
    }
    let mut git = json!({"checkout": {"ref": {"branch": args.checkout_branch}}, "commit": commit});
    if !args.push_branch.is_empty() {
        git["push"] = json!({"branch": args.push_branch});
    }
    let mut spec = json!({
        "sourceRef": source_ref,
        "git": git,
        "interval": super::create::interval(&args.common.interval)?,
    });
    if !args.git_repo_path.is_empty() {
        spec["update"] = json!({"path": args.git_repo_path, "strategy": "Setters"});
    }
    Ok(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImageUpdateAutomation",
        "metadata": super::create::metadata(&args.name, namespace, &args.common)?,
        "spec": spec,
    }))
}
