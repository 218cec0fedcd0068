//! Structured logs as upstream controllers write them (zap through
//! controller-runtime): one JSON object per line on stderr —
//! `{"level":"info","ts":"…","msg":"…", fields…}` — or, with
//! `--log-encoding=console`, `TIME<TAB>LEVEL<TAB>MESSAGE<TAB>{fields}`.
//!
//! Fields come from the event and from the spans around it (a reconcile
//! span carries `controller`, `name`, `namespace`, `reconcileID`). Messages
//! are condition messages and errors, which never contain credentials.

use std::fmt;
use std::io::Write;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// A log level or encoding that does not exist, or logging that could not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LoggingError(pub String);

impl From<String> for LoggingError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

/// `--log-encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogEncoding {
    /// One JSON object per line (upstream's default).
    Json,
    /// Human-readable, tab-separated.
    Console,
}

impl std::str::FromStr for LogEncoding {
    type Err = LoggingError;
    fn from_str(s: &str) -> Result<Self, LoggingError> {
        match s {
            "json" => Ok(LogEncoding::Json),
            "console" => Ok(LogEncoding::Console),
            other => Err(format!("unsupported log encoding {other:?} (json, console)").into()),
        }
    }
}

/// `--log-level`: `trace`, `debug`, `info` or `error` (`warn` too).
pub fn parse_level(level: &str) -> Result<LevelFilter, LoggingError> {
    match level {
        "trace" => Ok(LevelFilter::TRACE),
        "debug" => Ok(LevelFilter::DEBUG),
        "info" => Ok(LevelFilter::INFO),
        "warn" => Ok(LevelFilter::WARN),
        "error" => Ok(LevelFilter::ERROR),
        other => Err(format!("unsupported log level {other:?} (trace, debug, info, error)").into()),
    }
}

/// Installs the process-wide logger. Our crates log at `level`; libraries
/// only from `warn` up unless `level` is `trace`.
pub fn init(level: LevelFilter, encoding: LogEncoding) -> Result<(), LoggingError> {
    let subscriber = tracing_subscriber::registry().with(ZapLayer {
        level,
        encoding,
        writer: Box::new(|line: &str| {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(line.as_bytes());
        }),
    });
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| LoggingError(format!("installing the logger: {e}")))
}

type Sink = Box<dyn Fn(&str) + Send + Sync>;

struct ZapLayer {
    level: LevelFilter,
    encoding: LogEncoding,
    writer: Sink,
}

impl ZapLayer {
    fn wants(&self, metadata: &Metadata<'_>) -> bool {
        let ours = metadata.target().starts_with("flux") || metadata.target() == "fluxd";
        let limit = if ours || self.level == LevelFilter::TRACE {
            self.level
        } else {
            self.level.min(LevelFilter::WARN)
        };
        *metadata.level() <= limit
    }
}

/// The fields of a span, kept in its extensions.
struct SpanFields(Map<String, Value>);

impl<S> Layer<S> for ZapLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        metadata.is_span() || self.wants(metadata)
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields.map));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !self.wants(event.metadata()) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut merged = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(span_fields)) = span.extensions().get::<SpanFields>() {
                    for (k, v) in span_fields {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        merged.extend(fields.map);
        let line = format_line(
            self.encoding,
            *event.metadata().level(),
            &crate::now().0.to_string(),
            fields.message.as_deref().unwrap_or_default(),
            merged,
        );
        (self.writer)(&line);
    }
}

/// One log line (with its newline).
fn format_line(
    encoding: LogEncoding,
    level: Level,
    ts: &str,
    message: &str,
    fields: Map<String, Value>,
) -> String {
    let level = level_name(level);
    match encoding {
        LogEncoding::Json => {
            let mut object = Map::new();
            object.insert("level".into(), Value::from(level));
            object.insert("ts".into(), Value::from(ts));
            object.insert("msg".into(), Value::from(message));
            object.extend(fields);
            format!("{}\n", Value::Object(object))
        }
        LogEncoding::Console => {
            let level = level.to_uppercase();
            if fields.is_empty() {
                format!("{ts}\t{level}\t{message}\n")
            } else {
                format!("{ts}\t{level}\t{message}\t{}\n", Value::Object(fields))
            }
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

#[derive(Default)]
struct Fields {
    message: Option<String>,
    map: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, Value::from(format!("{value:?}")));
    }
}

impl Fields {
    fn insert(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.map.insert(field.name().to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn capture(level: LevelFilter, encoding: LogEncoding, f: impl FnOnce()) -> Vec<String> {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let subscriber = tracing_subscriber::registry().with(ZapLayer {
            level,
            encoding,
            writer: Box::new(move |line: &str| {
                if let Ok(mut l) = sink.lock() {
                    l.push(line.to_string());
                }
            }),
        });
        tracing::subscriber::with_default(subscriber, f);
        lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    #[test]
    fn json_lines_carry_span_and_event_fields() {
        let lines = capture(LevelFilter::INFO, LogEncoding::Json, || {
            let span = tracing::info_span!(
                "reconcile",
                controller = "gitrepository",
                name = "fleet",
                namespace = "flux-system"
            );
            let _entered = span.enter();
            tracing::info!(revision = "main@sha1:abc", "stored artifact");
            tracing::debug!("hidden at info");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let value: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(value["level"], "info");
        assert_eq!(value["msg"], "stored artifact");
        assert_eq!(value["controller"], "gitrepository");
        assert_eq!(value["name"], "fleet");
        assert_eq!(value["revision"], "main@sha1:abc");
        assert!(value["ts"].as_str().unwrap().ends_with('Z'));
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(&keys[..3], ["level", "ts", "msg"]);
    }

    #[test]
    fn console_lines_are_tab_separated_and_levels_filter() {
        let lines = capture(LevelFilter::ERROR, LogEncoding::Console, || {
            tracing::info!("not shown");
            tracing::error!(reason = "AuthenticationFailed", "reconciliation failed");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let parts: Vec<&str> = lines[0].trim_end().split('\t').collect();
        assert_eq!(parts[1], "ERROR");
        assert_eq!(parts[2], "reconciliation failed");
        assert_eq!(parts[3], r#"{"reason":"AuthenticationFailed"}"#);
        assert_eq!(
            parse_level("verbose"),
            Err(LoggingError(
                "unsupported log level \"verbose\" (trace, debug, info, error)".to_string()
            ))
        );
        assert!("yaml".parse::<LogEncoding>().is_err());
    }
}
