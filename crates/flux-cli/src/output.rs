//! What the CLI prints: upstream's status lines on stderr (`►`, `✔`, `◎`,
//! `✚`, `⚠️`, `✗`) and its tables on stdout.

use std::io::Write;

/// `► message`: an action starts.
pub fn action(message: impl AsRef<str>) {
    line("►", message.as_ref());
}

/// `✚ message`: something is generated.
pub fn generate(message: impl AsRef<str>) {
    line("✚", message.as_ref());
}

/// `◎ message`: waiting.
pub fn waiting(message: impl AsRef<str>) {
    line("◎", message.as_ref());
}

/// `✔ message`: done.
pub fn success(message: impl AsRef<str>) {
    line("✔", message.as_ref());
}

/// `⚠️ message`.
pub fn warning(message: impl AsRef<str>) {
    line("⚠️", message.as_ref());
}

/// `✗ message`: the command failed.
pub fn failure(message: impl AsRef<str>) {
    line("✗", message.as_ref());
}

fn line(mark: &str, message: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{mark} {message}");
}

/// Writes `text` to stdout (a closed pipe is not an error worth a panic).
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// A table as upstream prints it (tablewriter without borders, cells
/// padded to the column's width and followed by a tab; header titles
/// upper-cased, the last header followed by a space). No header when
/// `header` is `None`.
pub fn table(header: Option<&[&str]>, rows: &[Vec<String>]) -> String {
    let columns = header
        .map(<[&str]>::len)
        .unwrap_or(0)
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let titles: Vec<String> = header
        .map(|h| h.iter().map(|t| title(t)).collect())
        .unwrap_or_default();
    let mut widths = vec![0usize; columns];
    for (i, t) in titles.iter().enumerate() {
        widths[i] = widths[i].max(width(t));
    }
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            for part in cell.split('\n') {
                widths[i] = widths[i].max(width(part));
            }
        }
    }
    let mut out = String::new();
    if header.is_some() {
        for (i, w) in widths.iter().enumerate() {
            let t = titles.get(i).map(String::as_str).unwrap_or_default();
            out.push_str(&pad(t, *w));
            out.push_str(if i + 1 == columns { " " } else { "\t" });
        }
        out.push('\n');
    }
    for row in rows {
        let lines: Vec<Vec<&str>> = (0..columns)
            .map(|i| {
                row.get(i)
                    .map(|c| c.split('\n').collect())
                    .unwrap_or_else(|| vec![""])
            })
            .collect();
        let height = lines.iter().map(Vec::len).max().unwrap_or(1);
        for line in 0..height {
            for (i, w) in widths.iter().enumerate() {
                let cell = lines[i].get(line).copied().unwrap_or("  ");
                out.push_str(&pad(cell, *w));
                out.push('\t');
            }
            out.push('\n');
        }
    }
    out
}

/// tablewriter's `Title`: `_` and word-joining `.` become spaces, upper case.
fn title(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let num_or_space = |c: char| c.is_ascii_digit() || c == ' ';
    let mut out = String::with_capacity(name.len());
    for (i, &c) in chars.iter().enumerate() {
        let replaced = match c {
            '_' => ' ',
            '.' if (i != 0 && !num_or_space(chars[i - 1]))
                || (i + 1 != chars.len() && !num_or_space(chars[i + 1])) =>
            {
                ' '
            }
            other => other,
        };
        out.push(replaced);
    }
    let trimmed = out.trim();
    if trimmed.is_empty() && !name.is_empty() {
        return " ".to_string();
    }
    trimmed.to_uppercase()
}

fn width(text: &str) -> usize {
    text.chars().count()
}

fn pad(text: &str, width_to: usize) -> String {
    let mut out = text.to_string();
    for _ in width(text)..width_to {
        out.push(' ');
    }
    out
}

/// `kubectl`'s short ages: `45s`, `5m2s`, `3h`, `2d`, `<unknown>`.
pub fn human_age(seconds: Option<i64>) -> String {
    let Some(s) = seconds.filter(|s| *s >= 0) else {
        return "<unknown>".to_string();
    };
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    match s {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => {
            let rest = s % 60;
            if rest == 0 {
                format!("{m}m")
            } else {
                format!("{m}m{rest}s")
            }
        }
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 => {
            let rest = m % 60;
            if rest == 0 {
                format!("{h}h")
            } else {
                format!("{h}h{rest}m")
            }
        }
        _ if h < 48 => format!("{h}h"),
        _ if h < 24 * 8 => {
            let rest = h % 24;
            if rest == 0 {
                format!("{d}d")
            } else {
                format!("{d}d{rest}h")
            }
        }
        _ if h < 24 * 365 * 2 => format!("{d}d"),
        _ => format!("{}y", d / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::{human_age, table, title};

    #[test]
    fn tables_like_tablewriter() {
        let rows = vec![
            vec!["flux-system".to_string(), "True".to_string()],
            vec!["apps".to_string(), "False".to_string()],
        ];
        assert_eq!(
            table(Some(&["Name", "Ready"]), &rows),
            "NAME       \tREADY \nflux-system\tTrue \t\napps       \tFalse\t\n"
        );
        assert_eq!(table(None, &rows[1..]), "apps\tFalse\t\n");
        assert_eq!(title("last_seen"), "LAST SEEN");
        assert_eq!(title("v1.2"), "V1.2");
    }

    #[test]
    fn ages_like_kubectl() {
        assert_eq!(human_age(Some(5)), "5s");
        assert_eq!(human_age(Some(302)), "5m2s");
        assert_eq!(human_age(Some(3600)), "60m");
        assert_eq!(human_age(Some(4 * 3600)), "4h");
        assert_eq!(human_age(Some(3 * 86400)), "3d");
        assert_eq!(human_age(None), "<unknown>");
    }
}
