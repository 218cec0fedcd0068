//! Which files of a source go into its artifact: `.sourceignore` files (in
//! any folder, gitignore syntax, scoped to their folder), `spec.ignore`, and
//! upstream's default exclusions.
//!
//! As upstream: the VCS patterns always apply; the other defaults (images,
//! archives, CI files, …) apply only when the source brings no patterns of its
//! own — a `.sourceignore` anywhere, or `spec.ignore`, replaces them. Later
//! patterns win (deeper `.sourceignore` files over shallower ones,
//! `spec.ignore` over all), and a `!pattern` re-includes.

use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::error::{Error, Result, io};

/// The name of ignore files.
pub const IGNORE_FILE: &str = ".sourceignore";
/// Version-control files, always excluded.
pub const EXCLUDE_VCS: &str = ".git/,.gitignore,.gitmodules,.gitattributes";
/// Binary and archive extensions excluded by default.
pub const EXCLUDE_EXT: &str = "*.jpg,*.jpeg,*.gif,*.png,*.wmv,*.flv,*.tar.gz,*.zip";
/// CI configuration excluded by default.
pub const EXCLUDE_CI: &str = ".github/,.circleci/,.travis.yml,.gitlab-ci.yml,appveyor.yml,.drone.yml,cloudbuild.yaml,codeship-services.yml,codeship-steps.yml";
/// Tool configuration excluded by default.
pub const EXCLUDE_EXTRA: &str = "**/.goreleaser.yml,**/.sops.yaml,**/.flux.yaml";

/// The exclusion rules of one source tree.
#[derive(Debug)]
pub struct SourceIgnore {
    root: PathBuf,
    /// Lowest precedence first.
    matchers: Vec<Gitignore>,
    negations: bool,
}

impl SourceIgnore {
    /// Loads the rules of the tree at `root`: its `.sourceignore` files plus
    /// `extra` (the object's `spec.ignore`), with the defaults described in
    /// the module docs.
    pub fn load(root: &Path, extra: Option<&str>) -> Result<Self> {
        let mut user: Vec<(PathBuf, String)> = Vec::new();
        collect_ignore_files(root, &mut user)?;
        if let Some(extra) = extra {
            user.push((root.to_path_buf(), extra.to_string()));
        }
        let has_user_patterns = user.iter().any(|(_, text)| text.lines().any(is_pattern));
        let mut matchers = vec![comma_list(root, EXCLUDE_VCS)?];
        if !has_user_patterns {
            let defaults = [EXCLUDE_EXT, EXCLUDE_CI, EXCLUDE_EXTRA].join(",");
            matchers.push(comma_list(root, &defaults)?);
        }
        let mut negations = false;
        for (dir, text) in &user {
            let mut builder = GitignoreBuilder::new(dir);
            for line in text.lines().filter(|l| is_pattern(l)) {
                negations |= line.trim_start().starts_with('!');
                add(&mut builder, line)?;
            }
            matchers.push(build(builder)?);
        }
        Ok(Self {
            root: root.to_path_buf(),
            matchers,
            negations,
        })
    }

    /// Rules made of `patterns` only (gitignore syntax, relative to `root`):
    /// no `.sourceignore` files and no defaults besides what the caller
    /// passes, as `flux push artifact --ignore-paths` reads them.
    pub fn from_patterns(root: &Path, patterns: &[String]) -> Result<Self> {
        let mut builder = GitignoreBuilder::new(root);
        let mut negations = false;
        for line in patterns.iter().filter(|l| is_pattern(l)) {
            negations |= line.trim_start().starts_with('!');
            add(&mut builder, line)?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            matchers: vec![build(builder)?],
            negations,
        })
    }

    /// True when `relative` (a path below the root) is excluded.
    pub fn is_ignored(&self, relative: &Path, is_dir: bool) -> bool {
        let path = self.root.join(relative);
        for matcher in self.matchers.iter().rev() {
            // A nested `.sourceignore` only speaks for paths below its folder
            // (and the matcher must not be asked about others).
            if !path.starts_with(matcher.path()) || path == matcher.path() {
                continue;
            }
            match matcher.matched_path_or_any_parents(&path, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }

    /// True when an excluded folder can be skipped without looking inside
    /// (no `!pattern` could re-include something below it).
    pub fn can_prune(&self) -> bool {
        !self.negations
    }
}

fn is_pattern(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty() && !line.starts_with('#')
}

/// `.sourceignore` files of `dir` and its subfolders (not `.git`), parents first.
fn collect_ignore_files(dir: &Path, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
    let file = dir.join(IGNORE_FILE);
    if file.is_file() {
        let text =
            std::fs::read_to_string(&file).map_err(io(format!("reading {}", file.display())))?;
        out.push((dir.to_path_buf(), text));
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(format!("reading {}", dir.display())))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir && entry.file_name() != ".git" {
            collect_ignore_files(&entry.path(), out)?;
        }
    }
    Ok(())
}

fn comma_list(root: &Path, list: &str) -> Result<Gitignore> {
    let mut builder = GitignoreBuilder::new(root);
    for pattern in list.split(',') {
        add(&mut builder, pattern)?;
    }
    build(builder)
}

fn add(builder: &mut GitignoreBuilder, line: &str) -> Result<()> {
    builder
        .add_line(None, line)
        .map(|_| ())
        .map_err(|e| Error::Pattern {
            pattern: line.to_string(),
            reason: e.to_string(),
        })
}

fn build(builder: GitignoreBuilder) -> Result<Gitignore> {
    builder.build().map_err(|e| Error::Pattern {
        pattern: String::new(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let file = dir.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        dir
    }

    fn ignored(rules: &SourceIgnore, path: &str) -> bool {
        rules.is_ignored(Path::new(path.trim_end_matches('/')), path.ends_with('/'))
    }

    #[test]
    fn defaults_apply_without_user_patterns() {
        let dir = tree(&[("a.yaml", "")]);
        let rules = SourceIgnore::load(dir.path(), None).unwrap();
        for path in [
            ".git/",
            ".git/config",
            ".gitignore",
            "logo.png",
            "x/y.zip",
            ".github/workflows/ci.yaml",
            "deep/.sops.yaml",
            ".travis.yml",
        ] {
            assert!(ignored(&rules, path), "{path}");
        }
        for path in [
            "a.yaml",
            "deploy/app.yaml",
            "README.md",
            "charts/app/values.yaml",
        ] {
            assert!(!ignored(&rules, path), "{path}");
        }
    }

    #[test]
    fn user_patterns_replace_the_defaults_but_not_vcs() {
        let dir = tree(&[(".sourceignore", "# only docs\ndocs/\n")]);
        let rules = SourceIgnore::load(dir.path(), None).unwrap();
        assert!(ignored(&rules, "docs/index.md"));
        assert!(!ignored(&rules, "logo.png"), "defaults are replaced");
        assert!(ignored(&rules, ".git/HEAD"), "VCS patterns stay");
        let rules = SourceIgnore::load(tree(&[]).path(), Some("*.md\n!keep.md\n")).unwrap();
        assert!(ignored(&rules, "README.md"));
        assert!(!ignored(&rules, "keep.md"));
        assert!(!ignored(&rules, "logo.png"));
        assert!(!rules.can_prune());
    }

    #[test]
    fn nested_ignore_files_are_scoped_to_their_folder() {
        let dir = tree(&[
            ("apps/.sourceignore", "*.txt\n"),
            ("apps/a.txt", ""),
            ("b.txt", ""),
        ]);
        let rules = SourceIgnore::load(dir.path(), None).unwrap();
        assert!(ignored(&rules, "apps/a.txt"));
        assert!(ignored(&rules, "apps/deep/c.txt"));
        assert!(!ignored(&rules, "b.txt"));
    }

    #[test]
    fn spec_ignore_overrides_ignore_files() {
        let dir = tree(&[(".sourceignore", "secret.yaml\n")]);
        let rules = SourceIgnore::load(dir.path(), Some("!secret.yaml\n")).unwrap();
        assert!(!ignored(&rules, "secret.yaml"));
    }
}
