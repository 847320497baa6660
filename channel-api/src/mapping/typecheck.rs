//! The compile-time check of one parsed expression, and its rewrite for evaluation.
//!
//! The check walks the CEL syntax tree with the shape of the flow's record: every `record.a.b` must name a field of
//! the canonical type (comprehension variables such as `l` in `record.lines.map(l, l.lineId)` get the shape of an
//! element), every variable must be in scope, every function must exist, every `maps.<name>` must be defined. It
//! is not a full CEL type checker: operand types of operators and functions are left to evaluation.
//!
//! The rewrite turns `maps.<name>[value]` into a call of the value map's own function, so evaluation looks the
//! value up in a hash map instead of copying the whole table into the expression's scope per record.

use std::collections::BTreeSet;
use std::fmt;

use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr, LiteralValue};

use super::catalogue::{ANY, FieldError, Shape};
use super::functions::{self, Signature, VALUE_MAP_PREFIX};
use super::suggest;

/// The name of the value maps' namespace in expressions.
const MAPS: &str = "maps";
/// The CEL index operator, `a[b]`.
const INDEX: &str = "_[_]";

/// What an expression can refer to.
pub struct Environment<'a> {
    /// The flow's input variable: `record` outbound, `payload` inbound.
    pub variable: &'static str,
    /// The other direction's variable, named in the message when an expression uses it by mistake.
    pub other_variable: &'static str,
    /// The shape of the input; `Any` when it cannot be checked.
    pub shape: &'static Shape,
    /// The names of `spec.valueMaps`.
    pub value_maps: &'a BTreeSet<String>,
}

/// An expression that passed the check, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The expression with `maps.<name>[value]` rewritten.
    pub expression: IdedExpr,
    /// The input's top-level fields the expression reads, or `None` when it uses the input as a whole.
    pub root_fields: Option<BTreeSet<String>>,
    /// Field paths read from the input with constant keys, to name the missing one when evaluation fails.
    pub paths: Vec<FieldPath>,
}

/// A chain of constant field names and list indexes from the input variable: `record.sale.price`,
/// `payload.rows[0]['Order ID']`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath {
    pub variable: &'static str,
    pub segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(i64),
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.variable)?;
        for segment in &self.segments {
            match segment {
                Segment::Key(key) if is_identifier(key) => write!(f, ".{key}")?,
                Segment::Key(key) => write!(f, "[{key:?}]")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// Checks `expression` in `environment`: the rewritten expression, or every problem found.
pub fn check(expression: &IdedExpr, environment: &Environment<'_>) -> Result<Checked, Vec<String>> {
    let mut checker = Checker {
        environment,
        scope: Vec::new(),
        problems: Vec::new(),
        whole_input: false,
        root_fields: BTreeSet::new(),
        paths: Vec::new(),
    };
    let mut expression = expression.clone();
    checker.walk(&mut expression);
    if !checker.problems.is_empty() {
        return Err(checker.problems);
    }
    Ok(Checked {
        expression,
        root_fields: (!checker.whole_input).then_some(checker.root_fields),
        paths: checker.paths,
    })
}

/// What the checker knows about a sub-expression's value.
#[derive(Clone)]
struct Typed {
    shape: &'static Shape,
    /// The constant path from the input variable, when the value is one.
    path: Option<Vec<Segment>>,
    /// How the expression reads, for messages: `record.price`, `l.lineId`.
    label: String,
}

impl Typed {
    fn unknown(label: impl Into<String>) -> Self {
        Self {
            shape: &ANY,
            path: None,
            label: label.into(),
        }
    }
}

struct Checker<'e> {
    environment: &'e Environment<'e>,
    /// Comprehension variables in scope, innermost last.
    scope: Vec<(String, Typed)>,
    problems: Vec<String>,
    whole_input: bool,
    root_fields: BTreeSet<String>,
    paths: Vec<FieldPath>,
}

impl Checker<'_> {
    fn problem(&mut self, message: String) {
        // The same mistake repeated in one expression (`has(record.x) ? record.x : 0`) is reported once.
        if !self.problems.contains(&message) {
            self.problems.push(message);
        }
    }

    fn bound(&self, name: &str) -> Option<&Typed> {
        self.scope
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
    }

    fn is_input(&self, expression: &IdedExpr) -> bool {
        matches!(&expression.expr, Expr::Ident(name)
            if name == self.environment.variable && self.bound(name).is_none())
    }

    fn is_maps(&self, expression: &IdedExpr) -> bool {
        matches!(&expression.expr, Expr::Ident(name) if name == MAPS && self.bound(MAPS).is_none())
    }

    fn input(&self) -> Typed {
        Typed {
            shape: self.environment.shape,
            path: Some(Vec::new()),
            label: self.environment.variable.to_string(),
        }
    }

    fn walk(&mut self, expression: &mut IdedExpr) -> Typed {
        if let Some(name) = self.value_map_index(expression) {
            return self.rewrite_value_map(expression, name);
        }
        match &mut expression.expr {
            Expr::Ident(name) => self.ident(name),
            Expr::Select(select) => {
                if self.is_maps(&select.operand) {
                    let field = select.field.clone();
                    self.bare_value_map(&field);
                    return Typed::unknown(format!("{MAPS}.{field}"));
                }
                let operand = self.walk_operand(&mut select.operand);
                let field = select.field.clone();
                self.select(operand, &field, false)
            }
            Expr::Call(call) if call.func_name == INDEX && call.args.len() == 2 => self.index(call),
            Expr::Call(call) => self.call(call),
            Expr::Comprehension(comprehension) => {
                let range = self.walk(&mut comprehension.iter_range);
                self.walk(&mut comprehension.accu_init);
                let depth = self.scope.len();
                let element = Typed {
                    shape: range.shape.iteration_variable(),
                    path: None,
                    label: comprehension.iter_var.clone(),
                };
                self.scope.push((comprehension.iter_var.clone(), element));
                if let Some(second) = &comprehension.iter_var2 {
                    self.scope
                        .push((second.clone(), Typed::unknown(second.clone())));
                }
                let accumulator = comprehension.accu_var.clone();
                self.scope
                    .push((accumulator.clone(), Typed::unknown(accumulator)));
                self.walk(&mut comprehension.loop_cond);
                self.walk(&mut comprehension.loop_step);
                self.walk(&mut comprehension.result);
                self.scope.truncate(depth);
                Typed::unknown("a comprehension")
            }
            Expr::List(list) => {
                for element in &mut list.elements {
                    self.walk(element);
                }
                Typed::unknown("a list")
            }
            Expr::Map(map) => {
                for entry in &mut map.entries {
                    match &mut entry.expr {
                        EntryExpr::MapEntry(e) => {
                            self.walk(&mut e.key);
                            self.walk(&mut e.value);
                        }
                        // The interpreter panics on these; refuse them here.
                        EntryExpr::StructField(f) => {
                            let field = f.field.clone();
                            self.problem(format!(
                                "`{field}: ...` is a message field; map keys are quoted: {{'{field}': ...}}"
                            ));
                            self.walk(&mut f.value);
                        }
                    }
                }
                Typed::unknown("a map")
            }
            Expr::Struct(message) => {
                let name = message.type_name.clone();
                self.problem(format!(
                    "message construction ({name}{{...}}) is not supported; build a map: {{'field': value}}"
                ));
                Typed::unknown(name)
            }
            Expr::Literal(_) => Typed::unknown("a literal"),
            Expr::Unspecified => {
                self.problem("the expression is empty".to_string());
                Typed::unknown("nothing")
            }
        }
    }

    /// The operand of a selection or an index: the input variable there reads one field, not the whole input.
    fn walk_operand(&mut self, operand: &mut IdedExpr) -> Typed {
        if self.is_input(operand) {
            self.input()
        } else {
            self.walk(operand)
        }
    }

    fn ident(&mut self, name: &str) -> Typed {
        if let Some(typed) = self.bound(name) {
            return typed.clone();
        }
        let environment = self.environment;
        if name == environment.variable {
            self.whole_input = true;
            return self.input();
        }
        if name == MAPS {
            self.problem("value maps are read one value at a time: maps.<name>[value]".to_string());
        } else if name == environment.other_variable {
            self.problem(format!(
                "`{name}` is not defined in this flow: its input is `{}`",
                environment.variable
            ));
        } else {
            let mut known: Vec<&str> = vec![environment.variable];
            known.extend(
                self.scope
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .filter(|n| !n.starts_with('@')),
            );
            let hint = suggest::hint(name, known.iter().copied());
            self.problem(format!("undeclared variable `{name}`{hint}"));
        }
        Typed::unknown(name)
    }

    /// `operand.field` or `operand['field']`.
    fn select(&mut self, operand: Typed, field: &str, bracketed: bool) -> Typed {
        let label = if bracketed || !is_identifier(field) {
            format!("{}[{field:?}]", operand.label)
        } else {
            format!("{}.{field}", operand.label)
        };
        let path = operand.path.map(|mut segments| {
            if segments.is_empty() {
                self.root_fields.insert(field.to_string());
            }
            segments.push(Segment::Key(field.to_string()));
            segments
        });
        self.remember(&path);
        match operand.shape.field(field) {
            Ok(shape) => Typed { shape, path, label },
            Err(FieldError::Unknown { known }) => {
                let hint = suggest::hint(field, known.iter().map(String::as_str));
                self.problem(format!(
                    "unknown field `{label}`: {} has no field `{field}`{hint}",
                    operand.shape.describe()
                ));
                Typed::unknown(label)
            }
            Err(FieldError::NotAnObject { kind }) => {
                self.problem(format!(
                    "`{label}`: `{}` is a {kind}, which has no field `{field}`",
                    operand.label
                ));
                Typed::unknown(label)
            }
        }
    }

    /// `operand[key]`: a constant string key is a field selection; a constant integer indexes a list.
    fn index(&mut self, call: &mut CallExpr) -> Typed {
        let [operand, key] = call.args.as_mut_slice() else {
            return Typed::unknown("an index");
        };
        let operand = self.walk_operand(operand);
        match &key.expr {
            Expr::Literal(LiteralValue::String(field)) => {
                let field = field.inner().to_string();
                self.select(operand, &field, true)
            }
            Expr::Literal(LiteralValue::Int(i)) => {
                let i = *i.inner();
                if operand.path.as_ref().is_some_and(Vec::is_empty) {
                    self.whole_input = true;
                }
                let path = operand.path.map(|mut segments| {
                    segments.push(Segment::Index(i));
                    segments
                });
                self.remember(&path);
                Typed {
                    shape: operand.shape.element(),
                    path,
                    label: format!("{}[{i}]", operand.label),
                }
            }
            _ => {
                if operand.path.as_ref().is_some_and(Vec::is_empty) {
                    self.whole_input = true;
                }
                self.walk(key);
                Typed {
                    shape: operand.shape.element(),
                    path: None,
                    label: format!("{}[...]", operand.label),
                }
            }
        }
    }

    fn call(&mut self, call: &mut CallExpr) -> Typed {
        let name = call.func_name.clone();
        if !is_identifier(&name) {
            // An operator (`_+_`, `@in`, `!_`): defined for every type CEL has, checked when it runs.
            self.walk_call_parts(call);
            return Typed::unknown(name);
        }
        if let Some(target) = &call.target
            && let Expr::Ident(namespace) = &target.expr
            && self.bound(namespace).is_none()
            && functions::is_qualified(&format!("{namespace}.{name}"))
        {
            for argument in &mut call.args {
                self.walk(argument);
            }
            return Typed::unknown(name);
        }
        match functions::signature(&name) {
            None => {
                let hint = suggest::hint(&name, functions::known_names());
                self.problem(format!("unknown function `{name}`{hint}"));
            }
            Some(Signature::Sku) if call.target.is_some() || call.args.len() != 1 => {
                self.problem("sku() takes one argument: sku(value)".to_string());
            }
            Some(Signature::Method { .. }) if call.target.is_none() => {
                self.problem(format!("`{name}` is a method: write value.{name}(...)"));
            }
            Some(Signature::Method { min, max })
                if call.args.len() < min || call.args.len() > max =>
            {
                let count = if min == max {
                    min.to_string()
                } else {
                    format!("{min} or {max}")
                };
                self.problem(format!(
                    "`{name}` takes {count} arguments, not {}",
                    call.args.len()
                ));
            }
            Some(_) => {}
        }
        self.walk_call_parts(call);
        Typed::unknown(name)
    }

    fn walk_call_parts(&mut self, call: &mut CallExpr) {
        if let Some(target) = &mut call.target {
            self.walk(target);
        }
        for argument in &mut call.args {
            self.walk(argument);
        }
    }

    /// The map name when `expression` is `maps.<name>[value]`.
    fn value_map_index(&self, expression: &IdedExpr) -> Option<String> {
        let Expr::Call(call) = &expression.expr else {
            return None;
        };
        if call.func_name != INDEX || call.target.is_some() || call.args.len() != 2 {
            return None;
        }
        match &call.args[0].expr {
            Expr::Select(select) if !select.test && self.is_maps(&select.operand) => {
                Some(select.field.clone())
            }
            _ => None,
        }
    }

    /// `maps.<name>[value]` becomes `@maps.<name>(value)`.
    fn rewrite_value_map(&mut self, expression: &mut IdedExpr, name: String) -> Typed {
        if !self.environment.value_maps.contains(&name) {
            self.undefined_value_map(&name);
        }
        let Expr::Call(call) = &mut expression.expr else {
            return Typed::unknown(name);
        };
        let mut key = call.args.pop().unwrap_or_default();
        self.walk(&mut key);
        expression.expr = Expr::Call(CallExpr {
            func_name: format!("{VALUE_MAP_PREFIX}{name}"),
            target: None,
            args: vec![key],
        });
        Typed::unknown(format!("{MAPS}.{name}[...]"))
    }

    fn bare_value_map(&mut self, name: &str) {
        if self.environment.value_maps.contains(name) {
            self.problem(format!(
                "value map `{name}` is read one value at a time: maps.{name}[value]"
            ));
        } else {
            self.undefined_value_map(name);
        }
    }

    fn undefined_value_map(&mut self, name: &str) {
        let defined = self.environment.value_maps.iter().map(String::as_str);
        let hint = suggest::hint(name, defined);
        self.problem(format!(
            "value map `{name}` is not defined in spec.valueMaps{hint}"
        ));
    }

    fn remember(&mut self, path: &Option<Vec<Segment>>) {
        if let Some(segments) = path {
            let path = FieldPath {
                variable: self.environment.variable,
                segments: segments.clone(),
            };
            if !self.paths.contains(&path) {
                self.paths.push(path);
            }
        }
    }
}

/// A CEL identifier: what can follow a dot.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use cel::Program;
    use crds::channel::Flow;

    use super::super::catalogue::record_shape;
    use super::*;

    fn maps() -> BTreeSet<String> {
        ["carrier".to_string()].into()
    }

    fn check_outbound(flow: Flow, source: &str) -> Result<Checked, Vec<String>> {
        let value_maps = maps();
        let environment = Environment {
            variable: "record",
            other_variable: "payload",
            shape: record_shape(flow).unwrap_or(&ANY),
            value_maps: &value_maps,
        };
        let program = Program::compile(source).expect("parses");
        check(program.expression(), &environment)
    }

    #[test]
    fn fields_of_the_canonical_record_pass() {
        for source in [
            "has(record.sale) ? record.sale.price.amount : record.price.amount",
            "record['sku'] + ' ' + record.asOf",
        ] {
            assert!(check_outbound(Flow::Price, source).is_ok(), "{source}");
        }
        let checked = check_outbound(
            Flow::Inventory,
            "record.locations.map(l, {'w': l.location, 'q': l.available})",
        )
        .expect("checks");
        assert_eq!(checked.root_fields, Some(["locations".to_string()].into()));
        let checked = check_outbound(Flow::Inventory, "size(record) > 0").expect("checks");
        assert_eq!(checked.root_fields, None);
    }

    #[test]
    fn unknown_fields_are_named_with_close_matches() {
        let problems = check_outbound(Flow::Price, "record.price.amont").expect_err("fails");
        assert_eq!(
            problems,
            [
                "unknown field `record.price.amont`: Money has no field `amont` (did you mean `amount`?)"
            ]
        );
        let problems = check_outbound(Flow::Shipments, "record.lines.map(l, {'id': l.line_id})")
            .expect_err("fails");
        assert!(problems[0].contains("`l.line_id`"), "{problems:?}");
        assert!(problems[0].contains("`lineId`"), "{problems:?}");
        let problems = check_outbound(Flow::Inventory, "record.sku.value").expect_err("fails");
        assert!(problems[0].contains("is a string"), "{problems:?}");
    }

    #[test]
    fn value_maps_are_rewritten_into_calls() {
        let checked =
            check_outbound(Flow::Shipments, "maps.carrier[record.carrier]").expect("checks");
        let Expr::Call(call) = &checked.expression.expr else {
            panic!("not a call: {:?}", checked.expression);
        };
        assert_eq!(call.func_name, "@maps.carrier");
        let problems =
            check_outbound(Flow::Shipments, "maps.carier[record.carrier]").expect_err("fails");
        assert_eq!(
            problems,
            ["value map `carier` is not defined in spec.valueMaps (did you mean `carrier`?)"]
        );
        assert!(check_outbound(Flow::Shipments, "maps.carrier").is_err());
        assert!(check_outbound(Flow::Shipments, "maps").is_err());
    }

    #[test]
    fn variables_and_functions_must_exist() {
        let problems = check_outbound(Flow::Inventory, "payload.available").expect_err("fails");
        assert!(
            problems[0].contains("its input is `record`"),
            "{problems:?}"
        );
        let problems = check_outbound(Flow::Inventory, "recod.available").expect_err("fails");
        assert!(
            problems[0].contains("did you mean `record`"),
            "{problems:?}"
        );
        let problems =
            check_outbound(Flow::Inventory, "record.sku.lowerAscci()").expect_err("fails");
        assert!(
            problems[0].contains("did you mean `lowerAscii`"),
            "{problems:?}"
        );
        assert!(check_outbound(Flow::Inventory, "sku(record.sku, 1)").is_err());
        assert!(check_outbound(Flow::Inventory, "record.sku.substring(0, 1)").is_ok());
        assert!(check_outbound(Flow::Inventory, "optional.of(record.sku)").is_ok());
    }

    #[test]
    fn invoices_are_checked_against_the_invoice_record() {
        assert!(check_outbound(Flow::Invoices, "record.invoiceNumber").is_ok());
        assert!(check_outbound(Flow::Invoices, "record.lines.map(l, l.unitPrice.amount)").is_ok());
        assert!(check_outbound(Flow::Invoices, "record.invoiceNo").is_err());
    }

    #[test]
    fn paths_are_displayed_as_written() {
        let path = FieldPath {
            variable: "payload",
            segments: vec![
                Segment::Key("rows".into()),
                Segment::Index(0),
                Segment::Key("Order ID".into()),
            ],
        };
        assert_eq!(path.to_string(), "payload.rows[0][\"Order ID\"]");
    }
}
