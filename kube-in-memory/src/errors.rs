//! The API server's error answers: a `Status` object with the HTTP code, the machine-readable `reason` and, for
//! `Invalid` and apply conflicts, the `details.causes` naming each field.

use serde_json::{Value, json};

use crate::apply::managed::Conflict;
use crate::schema::validate::Cause;

/// What is refused, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    /// `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `BadRequest`, `MethodNotAllowed`, ...
    pub reason: &'static str,
    pub message: String,
    /// `details` of the Status: the object's name, group and kind, and the causes.
    pub details: Option<Box<Details>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Details {
    pub name: String,
    pub group: String,
    pub kind: String,
    pub causes: Vec<Cause>,
}

/// The object an error is about: `Deployment.apps "x"`, `ConfigMap "x"`.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    /// The plural resource (`deployments`), as "not found" messages name it.
    pub plural: &'a str,
    pub name: &'a str,
}

impl Subject<'_> {
    /// `Kind.group` (just `Kind` in the core group).
    fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// `plural.group` (just `plural` in the core group).
    fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    fn details(&self, causes: Vec<Cause>) -> Option<Box<Details>> {
        Some(Box::new(Details {
            name: self.name.to_string(),
            group: self.group.to_string(),
            kind: self.plural.to_string(),
            causes,
        }))
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn not_found(subject: Subject<'_>) -> Self {
        Self {
            details: subject.details(Vec::new()),
            ..Self::new(
                404,
                "NotFound",
                format!(
                    "{} {:?} not found",
                    subject.qualified_resource(),
                    subject.name
                ),
            )
        }
    }

    /// A path that names no resource this API serves.
    pub fn no_such_resource(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    pub fn already_exists(subject: Subject<'_>) -> Self {
        Self {
            details: subject.details(Vec::new()),
            ..Self::new(
                409,
                "AlreadyExists",
                format!(
                    "{} {:?} already exists",
                    subject.qualified_resource(),
                    subject.name
                ),
            )
        }
    }

    /// A write with a stale `resourceVersion` (or a failed precondition).
    pub fn conflict(subject: Subject<'_>, why: &str) -> Self {
        Self {
            details: subject.details(Vec::new()),
            ..Self::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} {:?}: {why}",
                    subject.qualified_resource(),
                    subject.name
                ),
            )
        }
    }

    /// 422: the object breaks its schema or the API's rules; one cause per field.
    pub fn invalid(subject: Subject<'_>, causes: Vec<Cause>) -> Self {
        let shown: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let listed = match shown.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        Self {
            details: subject.details(causes),
            ..Self::new(
                422,
                "Invalid",
                format!(
                    "{} {:?} is invalid: {listed}",
                    subject.qualified_kind(),
                    subject.name
                ),
            )
        }
    }

    /// 409 of a server-side apply that would change fields other managers own.
    pub fn apply_conflicts(subject: Subject<'_>, conflicts: &[Conflict]) -> Self {
        let causes: Vec<Cause> = conflicts
            .iter()
            .map(|c| Cause::new("FieldManagerConflict", c.field(), c.message()))
            .collect();
        let message = match conflicts {
            [one] => format!(
                "Apply failed with 1 conflict: {}: {}",
                one.message(),
                one.field()
            ),
            many => format!(
                "Apply failed with {} conflicts: {}",
                many.len(),
                many.iter()
                    .map(|c| format!("{}: {}", c.message(), c.field()))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        };
        Self {
            details: subject.details(causes),
            ..Self::new(409, "Conflict", message)
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (not {content_type:?})"
            ),
        )
    }

    /// The `Status` object of the answer.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            let mut details = json!({"name": d.name, "kind": d.kind});
            if !d.group.is_empty() {
                details["group"] = json!(d.group);
            }
            if !d.causes.is_empty() {
                details["causes"] = d
                    .causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect();
            }
            status["details"] = details;
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_object_lists_each_cause() {
        let subject = Subject {
            group: "tradewind.dev",
            kind: "Marketplace",
            plural: "marketplaces",
            name: "shop",
        };
        let error = ApiError::invalid(
            subject,
            vec![
                Cause::new("FieldValueRequired", "spec.currency", "Required value"),
                Cause::invalid("spec.channel", &json!("ebey"), "nope"),
            ],
        );
        let status = error.to_status();
        assert_eq!(status["code"], 422);
        assert_eq!(
            status["message"],
            "Marketplace.tradewind.dev \"shop\" is invalid: [spec.currency: Required value, spec.channel: Invalid value: \"ebey\": nope]"
        );
        assert_eq!(status["details"]["causes"][0]["field"], "spec.currency");
        assert_eq!(
            status["details"]["causes"][1]["reason"],
            "FieldValueInvalid"
        );
    }
}
