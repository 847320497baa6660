//! Applying a compiled flow to one record. Nothing is parsed here; a record that cannot be mapped is an error value
//! for the dead-letter stream, never a panic.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use cel::common::ast::IdedExpr;
use cel::objects::Value;
use cel::{Context, ExecutionError};

use super::convert;
use super::error::{RecordError, RecordErrorKind};
use super::functions::VALUE_MAP_PREFIX;
use super::plan::{FieldPlan, FlowPlan};
use super::typecheck::{FieldPath, Segment};

impl FlowPlan {
    /// Maps one record (outbound: a canonical record's JSON; inbound: a channel payload) to the JSON object of its
    /// target fields, dotted targets as nested objects.
    pub fn apply(&self, input: &serde_json::Value) -> Result<serde_json::Value, RecordError> {
        // Built on the first field that needs the interpreter: converting the record is most of a small
        // mapping's cost, and a mapping of constants and plain reads never needs it.
        let mut scope = None;
        let mut out = serde_json::Map::new();
        for field in &self.fields {
            let value = self.evaluate(field, &mut scope, input)?;
            field.target.write(&mut out, value);
        }
        Ok(serde_json::Value::Object(out))
    }

    /// The child scope of the flow's context holding the record: the top-level fields in `fields`, or all of it.
    fn scope(&self, input: &serde_json::Value, fields: Option<&BTreeSet<String>>) -> Context<'_> {
        let mut scope = self.context.new_inner_scope();
        scope.add_variable_from_value(self.variable, convert::to_cel_selected(input, fields));
        scope
    }

    fn evaluate<'a>(
        &'a self,
        field: &FieldPlan,
        scope: &mut Option<Context<'a>>,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, RecordError> {
        let error = |kind| RecordError {
            mapping: self.mapping.clone(),
            flow: self.flow,
            target: field.target.as_str().to_string(),
            kind,
        };
        let shortcut = field.shortcut.as_ref().map(|s| s.run(input));
        let result = match shortcut {
            Some(Some(result)) => result,
            interpreted => {
                // A shortcut that declines has its record fields left out of the shared scope; such a record
                // (an unusual one: reading through a null, say) gets a scope of its own.
                let own;
                let scope = if interpreted.is_some() {
                    own = self.scope(input, None);
                    &own
                } else {
                    &*scope.get_or_insert_with(|| self.scope(input, self.root_fields.as_ref()))
                };
                match interpret(&field.expression, scope) {
                    Ok(value) => {
                        return convert::to_json(&value)
                            .map_err(|message| error(RecordErrorKind::Output { message }));
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match result {
            Ok(value) => Ok(value),
            Err(e) => match classify(e) {
                Failure::Missing(missing) => match &field.default {
                    Some(default) => Ok(default.clone()),
                    None => Err(error(RecordErrorKind::MissingField {
                        field: name_missing(&field.paths, input, &missing),
                    })),
                },
                Failure::Other(kind) => Err(error(kind)),
            },
        }
    }
}

/// Evaluates an expression with the interpreter. It is third-party code with panicking corners; a record that
/// finds one is dead-lettered like any other failing record instead of taking the flow down.
fn interpret(expression: &IdedExpr, scope: &Context<'_>) -> Result<Value, ExecutionError> {
    catch_unwind(AssertUnwindSafe(|| Value::resolve(expression, scope))).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(ExecutionError::function_error(
            "(interpreter)",
            format!("the CEL interpreter failed: {message}"),
        ))
    })
}

/// What the record lacks: a key of an object, or an index of a list.
#[derive(Debug, PartialEq)]
enum Missing {
    Key(String),
    Index(i64),
}

enum Failure {
    /// The record lacks what the expression reads: the field's `default` applies.
    Missing(Missing),
    Other(RecordErrorKind),
}

fn classify(error: ExecutionError) -> Failure {
    match error {
        ExecutionError::NoSuchKey(key) => Failure::Missing(Missing::Key(key.to_string())),
        ExecutionError::IndexOutOfBounds(Value::Int(i)) => Failure::Missing(Missing::Index(i)),
        ExecutionError::FunctionError { function, message } => {
            match function.strip_prefix(VALUE_MAP_PREFIX) {
                Some(map) => Failure::Other(RecordErrorKind::UnmappedValue {
                    map: map.to_string(),
                    value: message,
                }),
                None => Failure::Other(RecordErrorKind::Evaluation {
                    message: format!("{function}: {message}"),
                }),
            }
        }
        other => Failure::Other(RecordErrorKind::Evaluation {
            message: other.to_string(),
        }),
    }
}

/// The field the record lacks, as written in the expression (`record.sale.price`) when one of its constant paths
/// stops at the missing key in this record; otherwise the bare key (it was read through a variable or a computed
/// key).
fn name_missing(paths: &[FieldPath], input: &serde_json::Value, missing: &Missing) -> String {
    for path in paths {
        let mut current = input;
        for (depth, segment) in path.segments.iter().enumerate() {
            let next = match segment {
                Segment::Key(key) => current.get(key.as_str()),
                Segment::Index(i) => usize::try_from(*i).ok().and_then(|i| current.get(i)),
            };
            match next {
                Some(value) => current = value,
                None => {
                    let stops_here = match (segment, missing) {
                        (Segment::Key(a), Missing::Key(b)) => a == b,
                        (Segment::Index(a), Missing::Index(b)) => a == b,
                        _ => false,
                    };
                    if stops_here {
                        let prefix = FieldPath {
                            variable: path.variable,
                            segments: path.segments[..=depth].to_vec(),
                        };
                        return prefix.to_string();
                    }
                    break;
                }
            }
        }
    }
    match missing {
        Missing::Key(key) => format!("{key:?}"),
        Missing::Index(i) => format!("[{i}]"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(segments: &[&str]) -> FieldPath {
        FieldPath {
            variable: "record",
            segments: segments
                .iter()
                .map(|s| Segment::Key(s.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_missing_field_is_named_by_its_path() {
        let input = json!({"price": {"amount": "1"}});
        let paths = [
            path(&["price", "amount"]),
            path(&["sale", "price", "amount"]),
        ];
        assert_eq!(
            name_missing(&paths, &input, &Missing::Key("sale".into())),
            "record.sale"
        );
        assert_eq!(
            name_missing(&paths, &input, &Missing::Key("other".into())),
            "\"other\""
        );
    }

    #[test]
    fn value_map_misses_are_told_from_other_function_errors() {
        let miss = classify(ExecutionError::function_error("@maps.carrier", "\"zz\""));
        assert!(matches!(
            miss,
            Failure::Other(RecordErrorKind::UnmappedValue { ref map, ref value })
                if map == "carrier" && value == "\"zz\""
        ));
        assert!(matches!(
            classify(ExecutionError::function_error("int", "bad")),
            Failure::Other(RecordErrorKind::Evaluation { .. })
        ));
        assert!(matches!(
            classify(ExecutionError::no_such_key("sale")),
            Failure::Missing(Missing::Key(_))
        ));
    }
}
