//! `spec.healthCheckExprs`: the health of custom resources decided by CEL
//! expressions instead of kstatus, with upstream's rules (Flux RFC 0009):
//!
//! - an object whose `status.observedGeneration` differs from its
//!   `metadata.generation` is in progress;
//! - then `inProgress`, `failed`, `current` are evaluated in that order and
//!   the first that is true decides; none true → in progress;
//! - each top-level field of the object (`apiVersion`, `kind`, `metadata`,
//!   `spec`, `status`, or whatever the kind has) is a variable;
//! - an expression that cannot be evaluated (a missing field without
//!   `has()` or `.?`) leaves the object in progress, so the health check
//!   waits until its timeout, as upstream.

use std::sync::Arc;

use crate::health::Health;
use cel::{Context, Env, Program, Value as CelValue};
use flux_api::kustomize_types::CustomHealthCheck;
use serde_json::Value;

/// A CEL expression that does not parse or cannot be evaluated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CelError(pub String);

impl From<String> for CelError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

/// Parsed expressions for one kind.
pub struct Evaluator {
    env: Arc<Env>,
    api_version: String,
    kind: String,
    current: (String, Program),
    in_progress: Option<(String, Program)>,
    failed: Option<(String, Program)>,
}

fn parse(env: &Env, which: &str, expr: &str) -> Result<(String, Program), String> {
    env.compile(expr)
        .map(|program| (expr.to_string(), program))
        .map_err(|e| {
            format!("failed to parse the expression {which}: failed to parse the CEL expression '{expr}': {e}")
        })
}

impl Evaluator {
    /// Parses `check`; the error names the expression that does not parse.
    pub fn new(check: &CustomHealthCheck) -> Result<Self, CelError> {
        if check.current.is_empty() {
            return Err("expression Current not specified".to_string().into());
        }
        // The standard library with optional types (`.?`, `orValue`).
        let env = Env::stdlib();
        let optional = |which: &str, expr: &Option<String>| {
            expr.as_deref()
                .filter(|e| !e.is_empty())
                .map(|e| parse(&env, which, e))
                .transpose()
        };
        let current = parse(&env, "Current", &check.current)?;
        let in_progress = optional("InProgress", &check.in_progress)?;
        let failed = optional("Failed", &check.failed)?;
        Ok(Self {
            env: Arc::new(env),
            api_version: check.api_version.clone(),
            kind: check.kind.clone().unwrap_or_default(),
            current,
            in_progress,
            failed,
        })
    }

    /// Whether these expressions decide the health of (`api_version`, `kind`).
    pub fn applies(&self, api_version: &str, kind: &str) -> bool {
        self.api_version == api_version && self.kind == kind
    }

    /// The health of `object`; `Err` when an expression cannot be evaluated.
    pub fn evaluate(&self, object: &Value) -> Result<Health, CelError> {
        let observed = object
            .get("status")
            .and_then(|s| s.get("observedGeneration"))
            .and_then(Value::as_i64);
        let generation = object
            .get("metadata")
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64);
        if let (Some(observed), Some(generation)) = (observed, generation)
            && observed != generation
        {
            return Ok(Health::InProgress);
        }
        let mut context = Context::with_env(self.env.clone());
        if let Some(fields) = object.as_object() {
            for (name, value) in fields {
                let value = cel::to_value(value)
                    .map_err(|e| format!("failed to convert field '{name}' for CEL: {e}"))?;
                context.add_variable_from_value(name.clone(), value);
            }
        }
        let ordered = [
            (self.in_progress.as_ref(), Health::InProgress),
            (self.failed.as_ref(), Health::Failed),
            (Some(&self.current), Health::Current),
        ];
        for (expression, health) in ordered {
            let Some((source, program)) = expression else {
                continue;
            };
            match program.execute(&context) {
                Ok(CelValue::Bool(true)) => return Ok(health),
                Ok(CelValue::Bool(false)) => {}
                Ok(_) => {
                    return Err(format!(
                        "failed to evaluate CEL expression as boolean: '{source}'"
                    )
                    .into());
                }
                Err(e) => {
                    return Err(
                        format!("failed to evaluate the CEL expression '{source}': {e}").into(),
                    );
                }
            }
        }
        Ok(Health::InProgress)
    }
}

/// Checks that `expr` parses (a Receiver's filters are validated before
/// any request reaches them).
pub fn check(expr: &str) -> Result<(), CelError> {
    Env::stdlib()
        .compile(expr)
        .map(|_| ())
        .map_err(|e| format!("failed to parse the CEL expression '{expr}': {e}").into())
}

/// Evaluates `expr` with `variables` bound.
fn evaluate(expr: &str, variables: &[(&str, &Value)]) -> Result<CelValue, CelError> {
    let env = Arc::new(Env::stdlib());
    let program = env
        .compile(expr)
        .map_err(|e| format!("failed to parse the CEL expression '{expr}': {e}"))?;
    let mut context = Context::with_env(env);
    for (name, value) in variables {
        let value =
            cel::to_value(value).map_err(|e| format!("failed to convert '{name}' for CEL: {e}"))?;
        context.add_variable_from_value(name.to_string(), value);
    }
    program
        .execute(&context)
        .map_err(|e| format!("failed to evaluate the CEL expression '{expr}': {e}").into())
}

/// Evaluates `expr` with `variables` bound (a `dependsOn[].readyExpr`:
/// `self` and `dep`); `Err` when it does not parse, cannot be evaluated or
/// is not a boolean.
pub fn evaluate_bool(expr: &str, variables: &[(&str, &Value)]) -> Result<bool, CelError> {
    match evaluate(expr, variables)? {
        CelValue::Bool(b) => Ok(b),
        _ => Err(format!("failed to evaluate CEL expression as boolean: '{expr}'").into()),
    }
}

/// Evaluates `expr` to a string with `variables` bound (a Provider's
/// `commitStatusExpr`: `event`, `alert`, `provider`).
pub fn evaluate_string(expr: &str, variables: &[(&str, &Value)]) -> Result<String, CelError> {
    match evaluate(expr, variables)? {
        CelValue::String(s) => Ok(s.to_string()),
        _ => Err(format!("failed to evaluate CEL expression as string: '{expr}'").into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;
    use serde_json::json;

    fn check(current: &str, in_progress: Option<&str>, failed: Option<&str>) -> Evaluator {
        Evaluator::new(&CustomHealthCheck {
            api_version: "example.com/v1".to_string(),
            kind: Some("Widget".to_string()),
            current: current.to_string(),
            in_progress: in_progress.map(str::to_string),
            failed: failed.map(str::to_string),
        })
        .unwrap()
    }

    #[test]
    fn checks_and_typed_results() {
        assert!(super::check("res.metadata.name == 'app'").is_ok());
        assert!(super::check("res.metadata.name ==").is_err());
        let v = json!({"name": "app"});
        assert_eq!(
            evaluate_string("v.name + '-x'", &[("v", &v)]),
            Ok("app-x".to_string())
        );
        assert_eq!(evaluate_bool("v.name == 'app'", &[("v", &v)]), Ok(true));
        assert!(evaluate_string("v.name == 'app'", &[("v", &v)]).is_err());
    }

    #[test]
    fn rules_in_upstream_order() {
        // From the Flux CEL cheatsheet (SealedSecret-like conditions).
        let e = check(
            "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
            Some(
                "status.?conditions.orValue([]).exists(e, e.type == 'Ready' && e.status == 'Unknown')",
            ),
            Some("status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'False')"),
        );
        let widget = |status: &str, generation: i64, observed: i64| {
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": "w", "generation": generation},
                   "status": {"observedGeneration": observed,
                              "conditions": [{"type": "Ready", "status": status}]}})
        };
        assert_eq!(e.evaluate(&widget("True", 1, 1)), Ok(Health::Current));
        assert_eq!(e.evaluate(&widget("False", 1, 1)), Ok(Health::Failed));
        assert_eq!(e.evaluate(&widget("Unknown", 1, 1)), Ok(Health::InProgress));
        // A generation not yet observed is in progress whatever the rest says.
        assert_eq!(e.evaluate(&widget("True", 2, 1)), Ok(Health::InProgress));
        assert!(e.applies("example.com/v1", "Widget"));
        assert!(!e.applies("example.com/v2", "Widget"));
    }

    #[test]
    fn missing_fields_and_non_booleans_are_errors() {
        let e = check("status.phase == 'Ready'", None, None);
        let err = e
            .evaluate(&json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}}))
            .unwrap_err();
        assert!(err.0.contains("status.phase == 'Ready'"), "{err}");
        let guarded = check("has(status.phase) && status.phase == 'Ready'", None, None);
        assert_eq!(
            guarded.evaluate(&json!({"kind": "Widget", "status": {}})),
            Ok(Health::InProgress)
        );
        let e = check("status.phase", None, None);
        let err = e
            .evaluate(&json!({"status": {"phase": "Ready"}}))
            .unwrap_err();
        assert!(err.0.contains("as boolean"), "{err}");
    }

    #[test]
    fn ready_expressions_see_self_and_dep() {
        let me = json!({"metadata": {"name": "apps"}, "spec": {"path": "./apps"}});
        let dep = json!({"metadata": {"name": "infra", "annotations": {"stage": "done"}},
                         "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        let vars = [("self", &me), ("dep", &dep)];
        assert_eq!(
            evaluate_bool(
                "dep.metadata.annotations.stage == 'done' && self.metadata.name == 'apps'",
                &vars
            ),
            Ok(true)
        );
        assert_eq!(
            evaluate_bool(
                "dep.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')",
                &vars
            ),
            Ok(false)
        );
        assert!(evaluate_bool("dep.metadata.name", &vars).is_err());
        assert!(evaluate_bool("dep.(", &vars).is_err());
    }

    #[test]
    fn unparsable_expressions_are_refused() {
        let err = Evaluator::new(&CustomHealthCheck {
            api_version: "example.com/v1".to_string(),
            kind: Some("Widget".to_string()),
            current: "status.(".to_string(),
            in_progress: None,
            failed: None,
        })
        .err()
        .unwrap();
        assert!(
            err.0.starts_with("failed to parse the expression Current"),
            "{err}"
        );
    }
}
