//! The functions mapping expressions can call beyond standard CEL: the value maps (`maps.<name>[value]`, rewritten
//! at compile time into a call of an internal function per map), `sku(value)`, and the string functions the
//! examples need from the CEL strings extension. They are registered once, in a flow's base context; each record is
//! evaluated in a child scope of it.

use std::collections::HashMap;
use std::sync::Arc;

use cel::objects::Value;
use cel::{Context, ExecutionError, FunctionContext, ResolveResult};
use crds::v1alpha1::OnMissing;

/// What `ctx.add_function` accepts for a hand-written function: full control over `this` and the arguments.
type CelFunction = Box<dyn Fn(&mut FunctionContext) -> ResolveResult + Send + Sync>;

/// Prefix of the internal function `maps.<name>[value]` becomes. `@` cannot start a CEL identifier, so no
/// expression can call these directly, and an error raised by one is recognisably a value-map miss.
pub const VALUE_MAP_PREFIX: &str = "@maps.";

/// The function `sku(value)`.
pub const SKU: &str = "sku";

/// Functions of `cel::Context::default()`, called as `f(x)` or `x.f()`. Expressions may call these, ours, and
/// the operators; anything else is a compile error rather than a dead-lettered record.
const STANDARD: &[&str] = &[
    "contains",
    "size",
    "max",
    "min",
    "startsWith",
    "endsWith",
    "string",
    "bytes",
    "double",
    "int",
    "uint",
    "value",
    "hasValue",
    "or",
    "orValue",
    "matches",
    "duration",
    "timestamp",
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
];

/// Functions of the standard context called with a namespace, as `optional.of(x)`.
const QUALIFIED: &[&str] = &["optional.none", "optional.of", "optional.ofNonZeroValue"];

/// Our string functions, as methods: name, least and most arguments besides the target.
const STRING_METHODS: &[(&str, usize, usize)] = &[
    ("substring", 1, 2),
    ("replace", 2, 3),
    ("lowerAscii", 0, 0),
    ("upperAscii", 0, 0),
    ("trim", 0, 0),
];

/// How a function may be called, for the compile-time check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signature {
    /// A standard CEL function: its own overloads are checked when it runs.
    Standard,
    /// `sku(value)`: one argument, no target.
    Sku,
    /// A string method taking between `min` and `max` arguments.
    Method { min: usize, max: usize },
}

/// The signature of a function that expressions may call by this name, if any.
pub fn signature(name: &str) -> Option<Signature> {
    if name == SKU {
        return Some(Signature::Sku);
    }
    if let Some((_, min, max)) = STRING_METHODS.iter().find(|(n, _, _)| *n == name) {
        return Some(Signature::Method {
            min: *min,
            max: *max,
        });
    }
    STANDARD.contains(&name).then_some(Signature::Standard)
}

/// True for `namespace.function` names such as `optional.of`.
pub fn is_qualified(name: &str) -> bool {
    QUALIFIED.contains(&name)
}

/// Every function name an expression may call, for "did you mean" hints.
pub fn known_names() -> impl Iterator<Item = &'static str> + Clone {
    STANDARD
        .iter()
        .copied()
        .chain(STRING_METHODS.iter().map(|(n, _, _)| *n))
        .chain(std::iter::once(SKU))
}

/// One value map, ready for lookups.
#[derive(Debug)]
pub struct ValueMapTable {
    pub name: String,
    /// Values are CEL strings already, so a hit costs a reference count, not a copy.
    entries: HashMap<String, Value>,
    on_missing: OnMissing,
    fallback: Option<Value>,
}

impl ValueMapTable {
    pub fn new(
        name: &str,
        entries: impl IntoIterator<Item = (String, String)>,
        on_missing: OnMissing,
        fallback: Option<&str>,
    ) -> Self {
        Self {
            name: name.to_string(),
            entries: entries
                .into_iter()
                .map(|(k, v)| (k, Value::String(Arc::new(v))))
                .collect(),
            on_missing,
            fallback: fallback.map(|f| Value::String(Arc::new(f.to_string()))),
        }
    }

    /// `maps.<name>[key]`. Keys are strings; integers and booleans are looked up by their text, so a numeric code
    /// in a channel payload still finds its entry. `null` is a value like any other that is not in the map.
    pub fn lookup(&self, key: &Value) -> ResolveResult {
        let text = match key {
            Value::String(s) => Some(s.as_str().to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::UInt(u) => Some(u.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => None,
            other => {
                return Err(ExecutionError::UnexpectedType {
                    got: format!("{} as a key of value map {}", other.type_of(), self.name),
                    want: "string".to_string(),
                });
            }
        };
        if let Some(found) = text.as_deref().and_then(|t| self.entries.get(t)) {
            return Ok(found.clone());
        }
        match (self.on_missing, &self.fallback) {
            (OnMissing::PassThrough, _) => Ok(key.clone()),
            (OnMissing::UseFallback, Some(fallback)) => Ok(fallback.clone()),
            // A fallback-less UseFallback is a compile error; were one to get here, failing is the safe reading.
            (OnMissing::Fail | OnMissing::UseFallback, _) => Err(ExecutionError::function_error(
                &format!("{VALUE_MAP_PREFIX}{}", self.name),
                text.map_or_else(|| "null".to_string(), |t| format!("{t:?}")),
            )),
        }
    }
}

/// The SKU cross-reference in the direction of one flow: ERP to channel outbound, channel to ERP inbound.
#[derive(Debug, Default)]
pub struct SkuTable {
    entries: HashMap<String, Value>,
}

impl SkuTable {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            entries: pairs
                .into_iter()
                .map(|(from, to)| (from, Value::String(Arc::new(to))))
                .collect(),
        }
    }

    /// `sku(value)`: the other side's SKU, or the value itself when it is not listed (most SKUs are the same on
    /// both sides). `null` stays `null`, so `sku(payload.optionalSku)` needs no guard.
    pub fn translate(&self, value: Value) -> ResolveResult {
        let found = match &value {
            Value::String(s) => self.entries.get(s.as_str()),
            Value::Int(i) => self.entries.get(&i.to_string()),
            Value::UInt(u) => self.entries.get(&u.to_string()),
            Value::Null => None,
            other => {
                return Err(ExecutionError::function_error(
                    SKU,
                    format!("a SKU is a string, got {}", other.type_of()),
                ));
            }
        };
        Ok(found.cloned().unwrap_or(value))
    }
}

/// The context every record of a flow is evaluated in (as a child scope): the standard functions, the value maps,
/// `sku` and the string functions. Built once per flow, when the mapping compiles.
pub fn base_context(maps: &[Arc<ValueMapTable>], skus: Arc<SkuTable>) -> Context<'static> {
    let mut context = Context::default();
    for table in maps {
        let name = format!("{VALUE_MAP_PREFIX}{}", table.name);
        let table = Arc::clone(table);
        let function: CelFunction = Box::new(move |ftx: &mut FunctionContext| {
            let key = argument(ftx, 0)?;
            table.lookup(&key)
        });
        context.add_function(&name, function);
    }
    let sku: CelFunction = Box::new(move |ftx: &mut FunctionContext| {
        let value = argument(ftx, 0)?;
        skus.translate(value)
    });
    context.add_function(SKU, sku);
    context.add_function("substring", boxed(substring));
    context.add_function("replace", boxed(replace));
    context.add_function(
        "lowerAscii",
        boxed(|ftx| map_this(ftx, |s| s.to_ascii_lowercase())),
    );
    context.add_function(
        "upperAscii",
        boxed(|ftx| map_this(ftx, |s| s.to_ascii_uppercase())),
    );
    context.add_function("trim", boxed(|ftx| map_this(ftx, |s| s.trim().to_string())));
    context
}

fn boxed(f: fn(&mut FunctionContext) -> ResolveResult) -> CelFunction {
    Box::new(f)
}

fn argument(ftx: &FunctionContext, index: usize) -> ResolveResult {
    let expression = ftx
        .args
        .get(index)
        .ok_or_else(|| ExecutionError::invalid_argument_count(index + 1, ftx.args.len()))?;
    Value::resolve(expression, ftx.ptx)
}

fn int_argument(ftx: &FunctionContext, index: usize) -> Result<i64, ExecutionError> {
    match argument(ftx, index)? {
        Value::Int(i) => Ok(i),
        other => Err(ExecutionError::UnexpectedType {
            got: other.type_of().to_string(),
            want: "int".to_string(),
        }),
    }
}

fn string_argument(ftx: &FunctionContext, index: usize) -> Result<Arc<String>, ExecutionError> {
    match argument(ftx, index)? {
        Value::String(s) => Ok(s),
        other => Err(ExecutionError::UnexpectedType {
            got: other.type_of().to_string(),
            want: "string".to_string(),
        }),
    }
}

/// The string a method is called on.
fn this_string(ftx: &FunctionContext) -> Result<Arc<String>, ExecutionError> {
    match &ftx.this {
        Some(Value::String(s)) => Ok(Arc::clone(s)),
        Some(other) => Err(ftx.error(format!("expects a string, got {}", other.type_of()))),
        None => Err(ExecutionError::missing_argument_or_target()),
    }
}

fn map_this(ftx: &mut FunctionContext, f: impl Fn(&str) -> String) -> ResolveResult {
    let this = this_string(ftx)?;
    Ok(Value::String(Arc::new(f(&this))))
}

/// `s.substring(start)`, `s.substring(start, end)`: code points `start..end`, as in the CEL strings extension.
fn substring(ftx: &mut FunctionContext) -> ResolveResult {
    let this = this_string(ftx)?;
    let length = this.chars().count();
    let start = int_argument(ftx, 0)?;
    let end = if ftx.args.len() > 1 {
        int_argument(ftx, 1)?
    } else {
        i64::try_from(length).unwrap_or(i64::MAX)
    };
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return Err(ftx.error(format!("index out of range: {start}..{end}")));
    };
    if start > end || end > length {
        return Err(ftx.error(format!(
            "index out of range: {start}..{end} of a string of {length} characters"
        )));
    }
    Ok(Value::String(Arc::new(
        this.chars().skip(start).take(end - start).collect(),
    )))
}

/// `s.replace(old, new)`, `s.replace(old, new, n)`: every occurrence, or the first `n` (all when `n` < 0).
fn replace(ftx: &mut FunctionContext) -> ResolveResult {
    let this = this_string(ftx)?;
    let old = string_argument(ftx, 0)?;
    let new = string_argument(ftx, 1)?;
    let limit = if ftx.args.len() > 2 {
        int_argument(ftx, 2)?
    } else {
        -1
    };
    let replaced = match usize::try_from(limit) {
        Ok(n) => this.replacen(old.as_str(), &new, n),
        Err(_) => this.replace(old.as_str(), &new),
    };
    Ok(Value::String(Arc::new(replaced)))
}

#[cfg(test)]
mod tests {
    use cel::Program;

    use super::*;

    fn context() -> Context<'static> {
        let carrier = ValueMapTable::new(
            "carrier",
            [("ups".to_string(), "UPS".to_string())],
            OnMissing::UseFallback,
            Some("Other"),
        );
        let skus = SkuTable::new([("TW-1".to_string(), "CH-1".to_string())]);
        base_context(&[Arc::new(carrier)], Arc::new(skus))
    }

    fn eval(source: &str) -> ResolveResult {
        let program = Program::compile(source).expect("compiles");
        program.execute(&context())
    }

    fn string(s: &str) -> Value {
        Value::String(Arc::new(s.to_string()))
    }

    #[test]
    fn every_listed_function_is_registered() {
        let context = context();
        for name in known_names() {
            let program = Program::compile(&format!("{name}()")).expect("compiles");
            let result = program.execute(&context);
            assert!(
                !matches!(result, Err(ExecutionError::UndeclaredReference(_))),
                "{name} is not registered"
            );
        }
    }

    #[test]
    fn string_functions_follow_the_strings_extension() {
        assert_eq!(eval("'20240313'.substring(4, 6)"), Ok(string("03")));
        assert_eq!(eval("'héllo'.substring(1)"), Ok(string("éllo")));
        assert!(eval("'abc'.substring(2, 5)").is_err());
        assert_eq!(eval("'a-b-c'.replace('-', '')"), Ok(string("abc")));
        assert_eq!(eval("'a-b-c'.replace('-', '', 1)"), Ok(string("ab-c")));
        assert_eq!(eval("' Ab '.trim().lowerAscii()"), Ok(string("ab")));
        assert_eq!(eval("'ab'.upperAscii()"), Ok(string("AB")));
    }

    #[test]
    fn sku_translates_listed_skus_only() {
        assert_eq!(eval("sku('TW-1')"), Ok(string("CH-1")));
        assert_eq!(eval("sku('TW-2')"), Ok(string("TW-2")));
        assert_eq!(eval("sku(null)"), Ok(Value::Null));
        assert!(eval("sku([1])").is_err());
    }

    #[test]
    fn value_maps_honour_on_missing() {
        let fail = ValueMapTable::new("m", [], OnMissing::Fail, None);
        let pass = ValueMapTable::new("m", [], OnMissing::PassThrough, None);
        let fallback = ValueMapTable::new("m", [], OnMissing::UseFallback, Some("F"));
        assert_eq!(
            fail.lookup(&string("x")),
            Err(ExecutionError::function_error("@maps.m", "\"x\""))
        );
        assert_eq!(pass.lookup(&Value::Int(7)), Ok(Value::Int(7)));
        assert_eq!(fallback.lookup(&Value::Null), Ok(string("F")));
        let numeric = ValueMapTable::new(
            "m",
            [("7".to_string(), "seven".to_string())],
            OnMissing::Fail,
            None,
        );
        assert_eq!(numeric.lookup(&Value::Int(7)), Ok(string("seven")));
    }
}
