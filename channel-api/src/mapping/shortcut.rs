//! Expressions that need no interpreter: a constant, a field read (`record.available`), and a field read through
//! `sku()` or a value map. Most target fields of real mappings are one of these, and the CEL interpreter copies
//! every value it touches (the record into its own representation, each selected field out of it), which costs
//! more than the lookup itself. These are evaluated on the record's JSON directly.
//!
//! A shortcut gives the same result as the interpreter or declines: whenever the record is not what the plain case
//! expects (a field read through something that is not an object, say), it returns `None` and the field is
//! interpreted, so CEL's semantics stay the only semantics.

use std::sync::Arc;

use cel::ExecutionError;
use cel::common::ast::{Expr, IdedExpr, LiteralValue};
use cel::objects::Value;
use serde_json::Value as Json;

use super::convert;
use super::functions::{SKU, SkuTable, VALUE_MAP_PREFIX, ValueMapTable};
use super::typecheck::Segment;

/// The CEL index operator, `a[b]`.
const INDEX: &str = "_[_]";

#[derive(Debug)]
pub enum Shortcut {
    /// A literal.
    Constant(Json),
    /// A chain of fields and constant indexes from the input.
    Read(Vec<Segment>),
    /// `sku(<read>)`.
    Sku(Arc<SkuTable>, Vec<Segment>),
    /// `maps.<name>[<read>]`.
    ValueMap(Arc<ValueMapTable>, Vec<Segment>),
}

/// The shortcut for a checked (rewritten) expression over `variable`, if it has one.
pub fn recognise(
    expression: &IdedExpr,
    variable: &str,
    maps: &[Arc<ValueMapTable>],
    skus: &Arc<SkuTable>,
) -> Option<Shortcut> {
    if let Expr::Literal(literal) = &expression.expr {
        return constant(literal).map(Shortcut::Constant);
    }
    if let Some(path) = read(expression, variable) {
        return Some(Shortcut::Read(path));
    }
    let Expr::Call(call) = &expression.expr else {
        return None;
    };
    let [argument] = call.args.as_slice() else {
        return None;
    };
    if call.target.is_some() {
        return None;
    }
    let path = read(argument, variable)?;
    if call.func_name == SKU {
        return Some(Shortcut::Sku(Arc::clone(skus), path));
    }
    let name = call.func_name.strip_prefix(VALUE_MAP_PREFIX)?;
    let table = maps.iter().find(|t| t.name == name)?;
    Some(Shortcut::ValueMap(Arc::clone(table), path))
}

fn constant(literal: &LiteralValue) -> Option<Json> {
    Some(match literal {
        LiteralValue::Null => Json::Null,
        LiteralValue::Boolean(b) => Json::Bool(*b.inner()),
        LiteralValue::Int(i) => Json::from(*i.inner()),
        LiteralValue::UInt(u) => Json::from(*u.inner()),
        LiteralValue::Double(d) => Json::Number(serde_json::Number::from_f64(*d.inner())?),
        LiteralValue::String(s) => Json::String(s.inner().to_string()),
        LiteralValue::Bytes(_) => return None,
    })
}

/// The path of `record.a['b'][0]`, or `None` for anything else.
fn read(expression: &IdedExpr, variable: &str) -> Option<Vec<Segment>> {
    match &expression.expr {
        Expr::Ident(name) if name == variable => Some(Vec::new()),
        Expr::Select(select) if !select.test => {
            let mut path = read(&select.operand, variable)?;
            path.push(Segment::Key(select.field.clone()));
            Some(path)
        }
        Expr::Call(call) if call.func_name == INDEX && call.target.is_none() => {
            let [operand, key] = call.args.as_slice() else {
                return None;
            };
            let segment = match &key.expr {
                Expr::Literal(LiteralValue::String(s)) => Segment::Key(s.inner().to_string()),
                Expr::Literal(LiteralValue::Int(i)) => Segment::Index(*i.inner()),
                _ => return None,
            };
            let mut path = read(operand, variable)?;
            path.push(segment);
            Some(path)
        }
        _ => None,
    }
}

impl Shortcut {
    /// The field's value for `input`, the error the interpreter would raise, or `None` to interpret.
    pub fn run(&self, input: &Json) -> Option<Result<Json, ExecutionError>> {
        match self {
            Shortcut::Constant(value) => Some(Ok(value.clone())),
            Shortcut::Read(path) => Some(walk(input, path)?.cloned()),
            Shortcut::Sku(table, path) => Some(match walk(input, path)? {
                Ok(value) => table.translate(convert::to_cel(value)).and_then(json),
                Err(e) => Err(e),
            }),
            Shortcut::ValueMap(table, path) => Some(match walk(input, path)? {
                Ok(value) => table.lookup(&convert::to_cel(value)).and_then(json),
                Err(e) => Err(e),
            }),
        }
    }
}

/// Follows `path` in `input` as the interpreter would: a missing key or index is its error; reading through
/// anything but an object or a list is left to the interpreter.
fn walk<'a>(input: &'a Json, path: &[Segment]) -> Option<Result<&'a Json, ExecutionError>> {
    let mut current = input;
    for segment in path {
        current = match (segment, current) {
            (Segment::Key(key), Json::Object(fields)) => match fields.get(key) {
                Some(value) => value,
                None => return Some(Err(ExecutionError::no_such_key(key))),
            },
            (Segment::Index(i), Json::Array(items)) => {
                match usize::try_from(*i).ok().and_then(|i| items.get(i)) {
                    Some(value) => value,
                    None => return Some(Err(ExecutionError::IndexOutOfBounds(Value::Int(*i)))),
                }
            }
            _ => return None,
        };
    }
    Some(Ok(current))
}

fn json(value: Value) -> Result<Json, ExecutionError> {
    // Table results are strings or the JSON value passed through, which always have a JSON form.
    convert::to_json(&value).map_err(|message| ExecutionError::function_error("(output)", message))
}

#[cfg(test)]
mod tests {
    use cel::Program;
    use crds::v1alpha1::OnMissing;
    use serde_json::json;

    use super::*;

    fn shortcut(source: &str) -> Option<Shortcut> {
        let program = Program::compile(source).expect("parses");
        let table = Arc::new(ValueMapTable::new(
            "carrier",
            [("ups".to_string(), "UPS".to_string())],
            OnMissing::Fail,
            None,
        ));
        let skus = Arc::new(SkuTable::new([("A".to_string(), "B".to_string())]));
        // What the type checker's rewrite produces for `maps.carrier[...]`.
        let source = program.expression().clone();
        let rewritten = match &source.expr {
            Expr::Call(call) if call.func_name == "carrier" => IdedExpr {
                id: source.id,
                expr: Expr::Call(cel::common::ast::CallExpr {
                    func_name: "@maps.carrier".to_string(),
                    target: None,
                    args: call.args.clone(),
                }),
            },
            _ => source,
        };
        recognise(&rewritten, "record", &[table], &skus)
    }

    fn run(source: &str, input: Json) -> Option<Result<Json, ExecutionError>> {
        shortcut(source).expect("has a shortcut").run(&input)
    }

    #[test]
    fn plain_reads_constants_and_lookups_are_recognised() {
        for source in [
            "'EA'",
            "42",
            "null",
            "record.a.b",
            "record['offer-sku']",
            "record.rows[0].x",
            "sku(record.sku)",
            "carrier(record.carrier)",
        ] {
            assert!(shortcut(source).is_some(), "{source}");
        }
        for source in [
            "record.a + 1",
            "has(record.a)",
            "record.a.map(x, x)",
            "sku(record.a, 1)",
            "b'x'",
        ] {
            assert!(shortcut(source).is_none(), "{source}");
        }
    }

    #[test]
    fn results_match_the_interpreter() {
        let input = json!({"a": {"b": 7}, "rows": [], "sku": "A", "carrier": "dhl", "n": null});
        assert_eq!(run("record.a.b", input.clone()), Some(Ok(json!(7))));
        assert_eq!(
            run("record.a.c", input.clone()),
            Some(Err(ExecutionError::no_such_key("c")))
        );
        assert_eq!(
            run("record.rows[0]", input.clone()),
            Some(Err(ExecutionError::IndexOutOfBounds(Value::Int(0))))
        );
        assert_eq!(run("sku(record.sku)", input.clone()), Some(Ok(json!("B"))));
        assert_eq!(
            run("carrier(record.carrier)", input.clone()),
            Some(Err(ExecutionError::function_error(
                "@maps.carrier",
                "\"dhl\""
            )))
        );
        // Reading through null is the interpreter's business.
        assert_eq!(run("record.n.x", input), None);
    }
}
