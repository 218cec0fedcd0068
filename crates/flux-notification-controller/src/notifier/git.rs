//! Git commit-status providers: github, gitlab, gitea. Each lists the
//! commit's statuses first and posts only when the same key does not
//! already carry the same state and description (upstream's duplicate
//! check), through the API clients upstream uses (go-github v64,
//! client-go for GitLab v0.122, the Gitea SDK v0.21): their paths,
//! headers and bodies.

use serde_json::{Value, json};

use super::http::Answer;
use super::{Config, Outgoing, Sender, reason_words};
use crate::event::Event;
use crate::gojson;

/// The commit SHA of a revision (`main@sha1:<sha>`, legacy `main/<sha>`,
/// or a bare hash): fluxcd/pkg's `ExtractHashFromRevision`.
pub fn parse_revision(revision: &str) -> Result<String, String> {
    let tail = match revision.rsplit_once('@') {
        Some((_, t)) => t,
        None => revision.rsplit_once('/').map_or(revision, |(_, t)| t),
    };
    let hash = tail
        .strip_prefix("sha1:")
        .or_else(|| tail.strip_prefix("sha256:"))
        .unwrap_or(tail);
    if matches!(hash.len(), 40 | 64) && hash.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(hash.to_string())
    } else {
        Err(format!(
            "failed to extract commit hash from '{revision}' revision"
        ))
    }
}

/// `https://host`, `owner/repo` of a repository URL (https or ssh;
/// scp-like `git@host:owner/repo`), as upstream's `parseGitAddress`.
pub fn parse_git_address(address: &str) -> Result<(String, String), String> {
    let (scheme, rest) = match address.split_once("://") {
        Some((s, r)) => (s.to_string(), r.to_string()),
        None => match address.split_once(':') {
            Some((userhost, path)) if !userhost.contains('/') => {
                ("ssh".to_string(), format!("{userhost}/{path}"))
            }
            _ => return Err(format!("failed parsing URL {address:?}: no scheme")),
        },
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest.as_str(), ""));
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let scheme = if scheme == "ssh" { "https" } else { &scheme };
    let id = path.trim_start_matches('/');
    let id = id.strip_suffix(".git").unwrap_or(id);
    Ok((format!("{scheme}://{host}"), id.to_string()))
}

fn owner_repo(id: &str) -> Result<(String, String), String> {
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() != 2 {
        return Err(format!("invalid repository id {id:?}"));
    }
    Ok((parts[0].to_string(), parts[1].to_string()))
}

/// The event's commit, or upstream's error.
fn commit(event: &Event) -> Result<String, String> {
    let revision = event
        .revision()
        .ok_or_else(|| "missing revision metadata".to_string())?;
    parse_revision(revision)
}

fn get(url: &str) -> Outgoing {
    Outgoing::get(url)
}

async fn call(sender: &Sender, config: &Config, request: &Outgoing) -> Result<Answer, String> {
    sender.send(config, request).await
}

fn ok_json(answer: &Answer, what: &str) -> Result<Value, String> {
    if !(200..300).contains(&answer.status) {
        return Err(format!(
            "{what}: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    serde_json::from_slice(&answer.body).map_err(|e| format!("{what}: {e}"))
}

/// `github`: `success` / `failure`, the key as `context`.
pub async fn github(sender: &Sender, config: &Config, event: &Event) -> Result<(), String> {
    if config.commit_status.is_empty() {
        return Err("commit status cannot be empty".into());
    }
    if config.token.is_empty() {
        return Err("github token or github app details must be specified".into());
    }
    let (host, id) = parse_git_address(&config.address)?;
    let (owner, repo) = owner_repo(&id)?;
    if event.reason == "Progressing" {
        return Ok(());
    }
    let sha = commit(event)?;
    let state = match event.severity.as_str() {
        "info" => "success",
        "error" => "failure",
        _ => return Err("can't convert to github state".into()),
    };
    let description = reason_words(&event.reason);
    let base = if host == "https://github.com" {
        "https://api.github.com/".to_string()
    } else {
        format!("{host}/api/v3/")
    };
    let with_headers = |r: Outgoing| {
        r.header("Accept", "application/vnd.github.v3+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("Authorization", &format!("Bearer {}", config.token))
    };
    let list = with_headers(get(&format!(
        "{base}repos/{owner}/{repo}/commits/{sha}/statuses?per_page=50"
    )));
    let statuses = ok_json(
        &call(sender, config, &list).await?,
        "could not list commit statuses",
    )?;
    for s in statuses.as_array().into_iter().flatten() {
        let field = |k: &str| s.get(k).and_then(Value::as_str);
        let (Some(context), Some(st), Some(desc)) =
            (field("context"), field("state"), field("description"))
        else {
            continue;
        };
        if context == config.commit_status {
            if st == state && desc == description {
                return Ok(());
            }
            break;
        }
    }
    // go-github encodes without HTML escaping, with a final newline.
    let body = format!(
        "{}\n",
        serde_json::to_string(
            &json!({"state": state, "description": description, "context": config.commit_status})
        )
        .map_err(|e| e.to_string())?
    );
    let create = with_headers(Outgoing::post(
        &format!("{base}repos/{owner}/{repo}/statuses/{sha}"),
        body,
    ));
    ok_json(
        &call(sender, config, &create).await?,
        "could not create commit status",
    )
    .map(|_| ())
}

/// `githubdispatch`: a `repository_dispatch` of the event, its type
/// `Kind/name.namespace`.
pub async fn github_dispatch(
    sender: &Sender,
    config: &Config,
    event: &Event,
) -> Result<(), String> {
    if config.token.is_empty() {
        return Err("github token or github app details must be specified".into());
    }
    let (host, id) = parse_git_address(&config.address)?;
    let (owner, repo) = owner_repo(&id)?;
    if event.is_commit_status_update() {
        return Ok(());
    }
    let base = if host == "https://github.com" {
        "https://api.github.com/".to_string()
    } else {
        format!("{host}/api/v3/")
    };
    let o = &event.involved_object;
    let event_type = format!("{}/{}.{}", o.kind, o.name, o.namespace);
    // go-github writes without HTML escaping; the payload is the event
    // as `json.Marshal` wrote it, kept verbatim.
    let body = format!(
        "{{\"event_type\":{},\"client_payload\":{}}}\n",
        serde_json::to_string(&event_type).map_err(|e| e.to_string())?,
        event.to_go_json()
    );
    let request = Outgoing::post(&format!("{base}repos/{owner}/{repo}/dispatches"), body)
        .header("Accept", "application/vnd.github.v3+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .header("Authorization", &format!("Bearer {}", config.token));
    let answer = call(sender, config, &request).await?;
    if !(200..300).contains(&answer.status) {
        return Err(format!(
            "could not send github repository dispatch webhook: POST {}: {} {}",
            request.url,
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    Ok(())
}

/// GitLab's `PathEscape`: URL path escaping with `.` escaped too.
fn gitlab_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `gitlab`: `success` / `failed`, the key as `name`.
pub async fn gitlab(sender: &Sender, config: &Config, event: &Event) -> Result<(), String> {
    if config.token.is_empty() {
        return Err("gitlab token cannot be empty".into());
    }
    let (host, id) = parse_git_address(&config.address)?;
    if config.commit_status.is_empty() {
        return Err("commit status cannot be empty".into());
    }
    if event.reason == "Progressing" {
        return Ok(());
    }
    let sha = commit(event)?;
    let state = match event.severity.as_str() {
        "info" => "success",
        "error" => "failed",
        _ => return Err("can't convert to gitlab state".into()),
    };
    let description = reason_words(&event.reason);
    let project = gitlab_escape(&id);
    let token = |r: Outgoing| {
        r.header("Accept", "application/json")
            .header("PRIVATE-TOKEN", &config.token)
    };
    let list = token(get(&format!(
        "{host}/api/v4/projects/{project}/repository/commits/{sha}/statuses?name={}",
        query_escape(&config.commit_status)
    )));
    let statuses = ok_json(
        &call(sender, config, &list).await?,
        "unable to list commit status",
    )?;
    for s in statuses.as_array().into_iter().flatten() {
        let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or_default();
        if field("sha") == sha
            && field("status") == state
            && field("description") == description
            && field("name") == config.commit_status
        {
            return Ok(());
        }
    }
    let body = gojson::to_string(&json!({
        "state": state, "name": config.commit_status, "description": description,
    }));
    let create = token(Outgoing::post(
        &format!("{host}/api/v4/projects/{project}/statuses/{sha}"),
        body,
    ));
    ok_json(
        &call(sender, config, &create).await?,
        "unable to set commit status",
    )
    .map(|_| ())
}

/// `gitea`: `pending` for Progressing, `success` / `failure`, the key
/// as `context`.
pub async fn gitea(sender: &Sender, config: &Config, event: &Event) -> Result<(), String> {
    if config.token.is_empty() {
        return Err("gitea token cannot be empty".into());
    }
    if config.commit_status.is_empty() {
        return Err("commit status cannot be empty".into());
    }
    let (host, id) =
        parse_git_address(&config.address).map_err(|e| format!("failed parsing Git URL: {e}"))?;
    let (owner, repo) = owner_repo(&id)?;
    let auth = |r: Outgoing| r.header("Authorization", &format!("token {}", config.token));
    // The SDK checks the server's version when the client is made.
    let version = auth(get(&format!("{host}/api/v1/version")));
    ok_json(
        &call(sender, config, &version).await?,
        "failed creating Gitea client",
    )?;
    let sha = commit(event)?;
    let state = if event.reason == "Progressing" {
        "pending"
    } else {
        match event.severity.as_str() {
            "info" => "success",
            "error" => "failure",
            _ => return Err("can't convert to gitea state".into()),
        }
    };
    let description = reason_words(&event.reason);
    let mut list = auth(get(&format!(
        "{host}/api/v1/repos/{owner}/{repo}/commits/{sha}/statuses?limit=50&page=1"
    )));
    list.json = true;
    let statuses = ok_json(
        &call(sender, config, &list).await?,
        "could not list commit statuses",
    )?;
    for s in statuses.as_array().into_iter().flatten() {
        let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or_default();
        let st = s
            .get("status")
            .or_else(|| s.get("state"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if field("context").is_empty() || st.is_empty() || field("description").is_empty() {
            continue;
        }
        if field("context") == config.commit_status {
            if st == state && field("description") == description {
                return Ok(());
            }
            break;
        }
    }
    let body = gojson::to_string(&json!({
        "state": state, "target_url": "", "description": description, "context": config.commit_status,
    }));
    let create = auth(Outgoing::post(
        &format!(
            "{host}/api/v1/repos/{owner}/{repo}/statuses/{}",
            query_escape(&sha)
        ),
        body,
    ));
    ok_json(
        &call(sender, config, &create).await?,
        "could not create commit status",
    )
    .map(|_| ())
}

/// The commits endpoint of a Bitbucket Server clone URL
/// (`https://host[/context]/scm/<project>/<repo>.git`).
fn bitbucket_server_commits(address: &str) -> Result<String, String> {
    let (scheme, rest) = address.split_once("://").unwrap_or(("", address));
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "could not parse git address: unsupported scheme type in address: {scheme}. Must be http or https"
        ));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let id_with_context = path.strip_suffix(".git").unwrap_or(path);
    let Some(at) = id_with_context.rfind("/scm/") else {
        return Err(
            "could not parse git address: supplied provider address is not http(s) git clone url"
                .into(),
        );
    };
    let context = &id_with_context[..at];
    let id = &id_with_context[at + "/scm/".len()..];
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() != 2 {
        return Err(format!(
            "could not parse git address: invalid repository id {id:?}"
        ));
    }
    Ok(format!(
        "{scheme}://{authority}{context}/rest/api/latest/projects/{}/repos/{}/commits",
        parts[0], parts[1]
    ))
}

/// `bitbucketserver`: build statuses keyed by the SHA-1 of the key,
/// `SUCCESSFUL` / `FAILED`, Bearer token or basic auth.
pub async fn bitbucket_server(
    sender: &Sender,
    config: &Config,
    event: &Event,
) -> Result<(), String> {
    let commits = bitbucket_server_commits(&config.address)?;
    if config.commit_status.is_empty() {
        return Err("commit status cannot be empty".into());
    }
    if config.token.is_empty() && (config.username.is_empty() || config.password.is_empty()) {
        return Err(
            "invalid credentials, expected to be one of username/password or API Token".into(),
        );
    }
    if event.reason == "Progressing" {
        return Ok(());
    }
    let revision = event
        .revision()
        .ok_or_else(|| "missing revision metadata".to_string())?;
    let sha = parse_revision(revision).map_err(|e| format!("could not parse revision: {e}"))?;
    let state = match event.severity.as_str() {
        "info" => "SUCCESSFUL",
        "error" => "FAILED",
        _ => return Err("couldn't convert to bitbucket server state: bitbucket server state generated on info or error events only".into()),
    };
    let description = reason_words(&event.reason);
    let o = &event.involved_object;
    let name = format!(
        "{} [{description}]",
        format!("{}/{}", o.kind, o.name).to_lowercase()
    );
    let key = crate::hex(&crate::sha1(config.commit_status.as_bytes()));
    let url = format!("{commits}/{sha}/builds");
    let auth = |r: Outgoing| {
        let r = if config.token.is_empty() {
            use base64::Engine as _;
            let basic = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", config.username, config.password));
            r.header("Authorization", &format!("Basic {basic}"))
        } else {
            r.header("Authorization", &format!("Bearer {}", config.token))
        };
        r.header("x-atlassian-token", "no-check")
            .header("x-requested-with", "XMLHttpRequest")
    };
    let existing = call(sender, config, &auth(get(&format!("{url}?key={key}")))).await.map_err(|e| {
        format!("could not get existing commit status: failed api call to check duplicate commit status: {e}")
    })?;
    if existing.status > 399 && existing.status != 404 {
        return Err(format!(
            "could not get existing commit status: failed api call to check duplicate commit status: {} - {}",
            existing.status,
            http::StatusCode::from_u16(existing.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or_default()
        ));
    }
    if existing.status == 200 {
        let found: Value = serde_json::from_slice(&existing.body).map_err(|e| {
            format!("could not get existing commit status: could not unmarshal json response body for duplicate commit status: {e}")
        })?;
        let field = |k: &str| found.get(k).and_then(Value::as_str).unwrap_or_default();
        if field("key") == key
            && field("state") == state
            && field("description") == description
            && field("name") == name
        {
            return Ok(());
        }
    }
    let mut body = serde_json::Map::new();
    if !description.is_empty() {
        body.insert("description".into(), json!(description));
    }
    body.insert("key".into(), json!(key));
    body.insert("name".into(), json!(name));
    body.insert("state".into(), json!(state));
    body.insert("url".into(), json!(config.address));
    let post = auth(Outgoing::post(
        &url,
        format!("{}\n", gojson::to_string(&Value::Object(body))),
    ));
    let answer = call(sender, config, &post).await.map_err(|e| {
        format!("could not post build status: could not post build commit status: {e}")
    })?;
    if answer.status > 399 {
        return Err(format!(
            "could not post build status: could not post build commit status: {} - {}",
            answer.status,
            http::StatusCode::from_u16(answer.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or_default()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_as_fluxcd_pkg() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(parse_revision(&format!("main@sha1:{sha}")), Ok(sha.into()));
        assert_eq!(parse_revision(&format!("main/{sha}")), Ok(sha.into()));
        assert_eq!(parse_revision(sha), Ok(sha.into()));
        assert!(parse_revision("v1.0.0@sha256:abc").is_err());
    }

    #[test]
    fn git_addresses_as_upstream() {
        assert_eq!(
            parse_git_address("https://github.com/org/repo.git"),
            Ok(("https://github.com".into(), "org/repo".into()))
        );
        assert_eq!(
            parse_git_address("ssh://git@github.com/org/repo"),
            Ok(("https://github.com".into(), "org/repo".into()))
        );
        assert_eq!(
            parse_git_address("git@gitlab.com:group/sub/repo.git"),
            Ok(("https://gitlab.com".into(), "group/sub/repo".into()))
        );
        assert_eq!(gitlab_escape("group/sub.repo"), "group%2Fsub%2Erepo");
        assert_eq!(
            bitbucket_server_commits("https://bb.example.com/ctx/scm/PROJ/repo.git"),
            Ok(
                "https://bb.example.com/ctx/rest/api/latest/projects/PROJ/repos/repo/commits"
                    .into()
            )
        );
        assert!(bitbucket_server_commits("ssh://git@bb/scm/p/r.git").is_err());
    }
}
