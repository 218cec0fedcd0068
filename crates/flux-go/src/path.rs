//! Go's `path` package (slash-separated paths, whatever the platform).

/// Go's `path.Clean`: the shortest equivalent path — repeated slashes,
/// `.` elements and `..` after a real element removed; a rooted path
/// drops `..` at its root; empty becomes `.`.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn cleans_as_go_does() {
        for (input, want) in [
            ("", "."),
            (".", "."),
            ("a/../b", "b"),
            ("a/..", "."),
            ("../x", "../x"),
            ("a/../../x", "../x"),
            ("/a/../../b", "/b"),
            ("/", "/"),
            ("//a//b/", "/a/b"),
            ("a/./b/.", "a/b"),
            ("../../a/..", "../.."),
        ] {
            assert_eq!(clean(input), want, "{input:?}");
        }
    }
}
