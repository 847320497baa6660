//! A channel's official specification, loaded from the files in `specs/` and used to judge every request a
//! sandbox receives and every answer it gives: the operation is found by method and path template (with the
//! servers' or `basePath` prefix), then path, query and header parameters are read as their schemas' types
//! and validated (types, enums, formats such as `date-time`, minimum/maximum, lengths, patterns), required
//! ones must be there and unknown query parameters must not, the media type must be one the operation
//! accepts, and the body must validate against its schema. Limits the specification states only in prose
//! are added as [`ProseRule`]s and checked the same way.
//!
//! Swagger 2.0 (Amazon's SP-API models), OpenAPI 3.0 (Walmart, eBay) and 3.1 (Mirakl) are read; schemas are
//! compiled on first use. A sandbox loads its specification once per process ([`ApiSpec::load`] behind a
//! `OnceLock`), with the files embedded by [`spec_file!`](crate::spec_file).

mod openapi;
mod path;
pub mod prose;
mod schema;

use std::sync::Arc;

use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

pub use openapi::{ArrayStyle, Location, Media, Operation, Parameter, Scalar, Shape};
pub use prose::{Erratum, ProseRule, Target};
pub use schema::Dialect;

use crate::conformance::Violation;
use schema::LazySchema;

/// A specification file: its path under `specs/` and its text.
#[derive(Clone, Copy, Debug)]
pub struct SpecFile {
    pub path: &'static str,
    pub text: &'static str,
}

/// A specification file of the repository's `specs/` folder, embedded in the binary: `spec_file!("walmart/
/// walmart-marketplace-feeds.yml")`. Used from a crate two levels below the workspace root (`sandboxes/*`).
#[macro_export]
macro_rules! spec_file {
    ($path:literal) => {
        $crate::spec::SpecFile {
            path: $path,
            text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs/", $path)),
        }
    };
}

struct Document {
    json: Value,
    dialect: Dialect,
}

struct CompiledRule {
    rule: ProseRule,
    validator: Arc<jsonschema::Validator>,
}

/// A channel's specification: its documents and operations, and the prose rules added to them.
pub struct ApiSpec {
    documents: Vec<Document>,
    operations: Vec<Operation>,
    rules: Vec<CompiledRule>,
}

impl std::fmt::Debug for ApiSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSpec")
            .field("operations", &self.operations.len())
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// A request as the checks see it.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// What the checks found about a request.
#[derive(Debug)]
pub struct Checked<'s> {
    /// The operation it was matched to (none: no operation has this path, or this method on it).
    pub operation: Option<&'s Operation>,
    /// The status a refusal answers with: 404 (no such operation), 415 (media type), 400 (the rest).
    pub status: u16,
    pub violations: Vec<Violation>,
}

impl ApiSpec {
    /// Reads `files` (JSON or YAML), applies `errata`, and checks `rules` against them: each rule's operation
    /// must exist and its quote must be in its file.
    pub fn load(
        files: &[SpecFile],
        rules: Vec<ProseRule>,
        errata: &[Erratum],
    ) -> Result<Self, String> {
        let mut documents = Vec::new();
        let mut operations = Vec::new();
        for file in files {
            let mut json = parse(file).map_err(|e| format!("{}: {e}", file.path))?;
            for erratum in errata.iter().filter(|e| e.file == file.path) {
                apply(&mut json, erratum).map_err(|e| format!("{}: {e}", file.path))?;
            }
            let dialect = openapi::dialect(&json).map_err(|e| format!("{}: {e}", file.path))?;
            schema::normalize(&mut json, dialect);
            operations.extend(
                openapi::operations(&json, dialect, file.path, documents.len())
                    .map_err(|e| format!("{}: {e}", file.path))?,
            );
            documents.push(Document { json, dialect });
        }
        let mut compiled = Vec::new();
        for rule in rules {
            let index = files
                .iter()
                .position(|f| f.path == rule.file)
                .ok_or_else(|| format!("rule {}: {} is not loaded", rule.id, rule.file))?;
            if !prose::quoted_in_document(&documents[index].json, rule.quote) {
                return Err(format!(
                    "rule {}: {:?} is not in {}",
                    rule.id, rule.quote, rule.file
                ));
            }
            if !operations.iter().any(|o| rule_applies(&rule, o)) {
                return Err(format!(
                    "rule {}: {} has no operation {}",
                    rule.id, rule.file, rule.operation
                ));
            }
            let validator = schema::compile(&rule.schema, &json!({}), Dialect::Swagger2)
                .map_err(|e| format!("rule {}: {e}", rule.id))?;
            compiled.push(CompiledRule { rule, validator });
        }
        Ok(Self {
            documents,
            operations,
            rules: compiled,
        })
    }

    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }

    /// The prose rules, for listings.
    pub fn rules(&self) -> impl Iterator<Item = &ProseRule> {
        self.rules.iter().map(|r| &r.rule)
    }

    /// The semantic rules whose quote is not in their file, for a test of each sandbox's list: a loaded
    /// file's parsed text, else one of `others` (raw text), else `README.md` (`specs/README.md`).
    pub fn unquoted(
        &self,
        files: &[SpecFile],
        rules: &[crate::SemanticRule],
        others: &[SpecFile],
    ) -> Vec<String> {
        const README: &str = include_str!("../../../specs/README.md");
        rules
            .iter()
            .filter(|rule| {
                let found = match files.iter().position(|f| f.path == rule.file) {
                    Some(index) => {
                        prose::quoted_in_document(&self.documents[index].json, rule.quote)
                    }
                    None => match others.iter().find(|f| f.path == rule.file) {
                        Some(other) => prose::quoted_in(other.text, rule.quote),
                        None => rule.file == "README.md" && prose::quoted_in(README, rule.quote),
                    },
                };
                !found
            })
            .map(|rule| format!("{}: {:?} is not in {}", rule.id, rule.quote, rule.file))
            .collect()
    }

    /// Every schema of every operation compiled now (a test that the specification is fully usable); the
    /// problems found, each naming the operation.
    pub fn compile_all(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for op in &self.operations {
            let document = &self.documents[op.document];
            let mut schemas: Vec<(String, &LazySchema)> = op
                .parameters
                .iter()
                .map(|p| (format!("parameter {}", p.name), &p.schema))
                .collect();
            for media in op.body.iter().flat_map(|b| &b.content) {
                if let Some(s) = &media.schema {
                    schemas.push((format!("request body {}", media.media_type), s));
                }
            }
            for response in &op.responses {
                for media in &response.content {
                    if let Some(s) = &media.schema {
                        schemas.push((
                            format!("response {} {}", response.status, media.media_type),
                            s,
                        ));
                    }
                }
            }
            for (what, schema) in schemas {
                if let Err(e) = schema.validator(&document.json, document.dialect) {
                    problems.push(format!(
                        "{} {} ({}): {what}: {e}",
                        op.file, op.id, op.method
                    ));
                }
            }
        }
        problems
    }

    /// Matches `request` to its operation and checks it. Several operations may share a method and path
    /// (Walmart's `POST /v3/feeds` is three, told apart by `feedType`): the most specific template is tried
    /// first, and the first operation the request satisfies is the match.
    pub fn check_request(&self, request: &RequestParts<'_>) -> Checked<'_> {
        let query = crate::query::pairs(request.query.unwrap_or(""));
        let mut on_path = Vec::new();
        for op in &self.operations {
            for template in &op.templates {
                if let Some(captured) = template.matches(request.path) {
                    on_path.push((op, template, captured));
                }
            }
        }
        if on_path.is_empty() {
            return Checked {
                operation: None,
                status: 404,
                violations: vec![Violation::spec(
                    "operation",
                    format!(
                        "no operation of the specification has the path {}",
                        request.path
                    ),
                )],
            };
        }
        let mut candidates: Vec<_> = on_path
            .iter()
            .filter(|(op, template, _)| {
                op.method == request.method
                    && template.fixed_query.iter().all(|pair| query.contains(pair))
            })
            .collect();
        if candidates.is_empty() {
            let mut allowed: Vec<&str> = on_path
                .iter()
                .map(|(op, _, _)| op.method.as_str())
                .collect();
            allowed.sort_unstable();
            allowed.dedup();
            return Checked {
                operation: None,
                status: 405,
                violations: vec![Violation::spec(
                    "operation",
                    format!(
                        "{} is not an operation of {} (the specification has {})",
                        request.method,
                        request.path,
                        allowed.join(", ")
                    ),
                )],
            };
        }
        candidates.sort_by_key(|(_, template, _)| std::cmp::Reverse(template.specificity()));
        let mut first: Option<Checked<'_>> = None;
        for (op, template, captured) in candidates {
            let checked = self.check_operation(op, template, captured, &query, request);
            if checked.violations.is_empty() {
                return checked;
            }
            first.get_or_insert(checked);
        }
        first.unwrap_or(Checked {
            operation: None,
            status: 404,
            violations: Vec::new(),
        })
    }

    fn check_operation<'s>(
        &'s self,
        op: &'s Operation,
        template: &path::PathTemplate,
        captured: &[(String, String)],
        query: &[(String, String)],
        request: &RequestParts<'_>,
    ) -> Checked<'s> {
        let document = &self.documents[op.document];
        let mut violations = Vec::new();
        let mut status = 400;
        let fixed: Vec<&str> = template
            .fixed_query
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        for (name, _) in query {
            let declared = op
                .parameters
                .iter()
                .any(|p| p.location == Location::Query && &p.name == name)
                || self.rules.iter().any(|r| {
                    rule_applies(&r.rule, op)
                        && matches!(r.rule.target, Target::Query(n, _) if n == name)
                });
            if !declared && !fixed.contains(&name.as_str()) {
                violations.push(Violation::spec(
                    format!("query.{name}"),
                    format!("{name} is not a query parameter of {}", op.id),
                ));
            }
        }
        for parameter in &op.parameters {
            let texts: Vec<String> = match parameter.location {
                Location::Path => captured
                    .iter()
                    .filter(|(n, _)| n == &parameter.name)
                    .map(|(_, v)| v.clone())
                    .collect(),
                Location::Query => query
                    .iter()
                    .filter(|(n, _)| n == &parameter.name)
                    .map(|(_, v)| v.clone())
                    .collect(),
                Location::Header => {
                    if ignored_header(&parameter.name, document.dialect) {
                        continue;
                    }
                    request
                        .headers
                        .get_all(parameter.name.as_str())
                        .iter()
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                        .collect()
                }
            };
            let location = format!("{}.{}", parameter.location.as_str(), parameter.name);
            if texts.is_empty() {
                if parameter.required && !fixed.contains(&parameter.name.as_str()) {
                    violations.push(Violation::spec(
                        &location,
                        format!(
                            "the required {} parameter {} is missing",
                            parameter.location.as_str(),
                            parameter.name
                        ),
                    ));
                }
                continue;
            }
            let value = match read_parameter(parameter, &texts) {
                Ok(value) => value,
                Err(message) => {
                    violations.push(Violation::spec(&location, message));
                    continue;
                }
            };
            validate(
                &parameter.schema,
                document,
                &value,
                &location,
                "spec",
                &mut violations,
            );
        }
        for rule in self.rules.iter().filter(|r| rule_applies(&r.rule, op)) {
            check_rule(rule, captured, query, request, &mut violations);
        }
        if let Some(media_violation) = self.check_body(op, document, request, &mut violations) {
            violations.push(media_violation);
            status = 415;
        }
        Checked {
            operation: Some(op),
            status,
            violations,
        }
    }

    /// Checks the body; a media type the operation does not accept is returned (it answers 415), other
    /// problems are pushed.
    fn check_body(
        &self,
        op: &Operation,
        document: &Document,
        request: &RequestParts<'_>,
        violations: &mut Vec<Violation>,
    ) -> Option<Violation> {
        let Some(body) = &op.body else {
            if !request.body.is_empty() {
                violations.push(Violation::spec(
                    "body",
                    format!("{} takes no request body", op.id),
                ));
            }
            return None;
        };
        if request.body.is_empty() {
            if body.required {
                violations.push(Violation::spec(
                    "body",
                    format!("{} requires a body", op.id),
                ));
            }
            return None;
        }
        let content_type = request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = essence(content_type);
        let Some(media) = body
            .content
            .iter()
            .find(|m| media_matches(&m.media_type, &essence))
        else {
            let accepted: Vec<&str> = body.content.iter().map(|m| m.media_type.as_str()).collect();
            return Some(Violation::spec(
                "media-type",
                format!(
                    "Content-Type {content_type:?} is not one {} accepts ({})",
                    op.id,
                    accepted.join(", ")
                ),
            ));
        };
        let Some(schema) = &media.schema else {
            return None;
        };
        let instance = match body_instance(&essence, content_type, request.body, schema, document) {
            Ok(Some(instance)) => instance,
            Ok(None) => return None,
            Err(message) => {
                violations.push(Violation::spec("body", message));
                return None;
            }
        };
        validate(schema, document, &instance, "body", "spec", violations);
        None
    }

    /// Checks an answer of `op`: a documented status's JSON body against its schema, a 2xx status among the
    /// documented ones. Faults injected on purpose are not answers to check.
    pub fn check_response(
        &self,
        op: &Operation,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Vec<Violation> {
        let document = &self.documents[op.document];
        let mut violations = Vec::new();
        let code = status.to_string();
        let class = format!("{}XX", status / 100);
        let documented = op
            .responses
            .iter()
            .find(|r| r.status == code)
            .or_else(|| op.responses.iter().find(|r| r.status == class))
            .or_else(|| op.responses.iter().find(|r| r.status == "DEFAULT"));
        let Some(response) = documented else {
            let documented_2xx: Vec<&str> = op
                .responses
                .iter()
                .map(|r| r.status.as_str())
                .filter(|s| s.starts_with('2'))
                .collect();
            if (200..300).contains(&status) && !documented_2xx.is_empty() {
                violations.push(Violation::spec(
                    "status",
                    format!(
                        "{} answers {}; the specification documents {}",
                        op.id,
                        status,
                        documented_2xx.join(", ")
                    ),
                ));
            }
            return violations;
        };
        if body.is_empty() || response.content.is_empty() {
            return violations;
        }
        let content_type = content_type.unwrap_or("");
        let essence = essence(content_type);
        let Some(media) = response
            .content
            .iter()
            .find(|m| media_matches(&m.media_type, &essence))
        else {
            let documented: Vec<&str> = response
                .content
                .iter()
                .map(|m| m.media_type.as_str())
                .collect();
            violations.push(Violation::spec(
                "media-type",
                format!(
                    "{} {} answers Content-Type {content_type:?}; documented: {}",
                    op.id,
                    status,
                    documented.join(", ")
                ),
            ));
            return violations;
        };
        let Some(schema) = &media.schema else {
            return violations;
        };
        if !is_json(&essence) {
            return violations;
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(instance) => validate(schema, document, &instance, "body", "spec", &mut violations),
            Err(e) => violations.push(Violation::spec("body", format!("not JSON: {e}"))),
        }
        violations
    }
}

fn apply(document: &mut Value, erratum: &Erratum) -> Result<(), String> {
    let was: Value = serde_json::from_str(erratum.was)
        .map_err(|e| format!("erratum {}: `was` is not JSON: {e}", erratum.pointer))?;
    let now: Value = serde_json::from_str(erratum.now)
        .map_err(|e| format!("erratum {}: `now` is not JSON: {e}", erratum.pointer))?;
    let at = document
        .pointer_mut(erratum.pointer)
        .ok_or_else(|| format!("erratum {}: nothing there", erratum.pointer))?;
    if *at != was {
        return Err(format!(
            "erratum {}: the file has {at}, not {was} (corrected upstream? remove the erratum)",
            erratum.pointer
        ));
    }
    *at = now;
    Ok(())
}

/// Whether `rule` applies to `op`: named by its id, or `*` for every operation that declares the rule's
/// parameter.
fn rule_applies(rule: &ProseRule, op: &Operation) -> bool {
    if rule.operation != "*" {
        // Two files may use one operation id (Amazon's Orders v0 and 2026-01-01 both have getOrder).
        return rule.operation == op.id && rule.file == op.file;
    }
    let (name, location) = match rule.target {
        Target::Query(name, _) => (name, Location::Query),
        Target::Path(name, _) => (name, Location::Path),
        Target::Header(name) => (name, Location::Header),
        Target::Body(_) => return false,
    };
    op.parameters
        .iter()
        .any(|p| p.location == location && p.name.eq_ignore_ascii_case(name))
}

/// OpenAPI 3: "If `in` is "header" and the name field is "Accept", "Content-Type" or "Authorization", the
/// parameter definition SHALL be ignored."
fn ignored_header(name: &str, dialect: Dialect) -> bool {
    dialect != Dialect::Swagger2
        && ["accept", "content-type", "authorization"].contains(&name.to_ascii_lowercase().as_str())
}

/// A parameter's texts as the JSON value its schema describes.
fn read_parameter(parameter: &Parameter, texts: &[String]) -> Result<Value, String> {
    match parameter.shape {
        Shape::Scalar(scalar) => {
            if texts.len() > 1 && parameter.location != Location::Header {
                return Err(format!(
                    "{} is given {} times; it takes one value",
                    parameter.name,
                    texts.len()
                ));
            }
            read_scalar(&texts[0], scalar)
        }
        Shape::Array(scalar) => {
            let items: Vec<&str> = match parameter.style {
                ArrayStyle::Repeated => texts.iter().map(String::as_str).collect(),
                ArrayStyle::Separated(separator) => {
                    texts.iter().flat_map(|t| t.split(separator)).collect()
                }
            };
            items
                .into_iter()
                .map(|t| read_scalar(t, scalar))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        Shape::Other => Ok(Value::String(texts[0].clone())),
    }
}

fn read_scalar(text: &str, scalar: Scalar) -> Result<Value, String> {
    match scalar {
        Scalar::String => Ok(Value::String(text.to_string())),
        Scalar::Integer => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<u64>().map(Value::from))
            .map_err(|_| format!("{text:?} is not an integer")),
        Scalar::Number => serde_json::from_str::<serde_json::Number>(text)
            .map(Value::Number)
            .map_err(|_| format!("{text:?} is not a number")),
        Scalar::Boolean => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("{text:?} is not true or false")),
        },
    }
}

/// Validates `instance` against `schema`, pushing one violation per error under `location`.
fn validate(
    schema: &LazySchema,
    document: &Document,
    instance: &Value,
    location: &str,
    rule: &str,
    violations: &mut Vec<Violation>,
) {
    match schema.validator(&document.json, document.dialect) {
        Ok(validator) => push_errors(&validator, instance, location, rule, violations),
        Err(e) => violations.push(Violation::of(
            "sandbox",
            location,
            format!("the specification's schema cannot be used: {e}"),
        )),
    }
}

fn push_errors(
    validator: &jsonschema::Validator,
    instance: &Value,
    location: &str,
    rule: &str,
    violations: &mut Vec<Violation>,
) {
    for error in validator.iter_errors(instance).take(10) {
        let at = error.instance_path().to_string();
        violations.push(Violation::of(
            rule,
            format!("{location}{at}"),
            error.to_string(),
        ));
    }
}

fn check_rule(
    compiled: &CompiledRule,
    captured: &[(String, String)],
    query: &[(String, String)],
    request: &RequestParts<'_>,
    violations: &mut Vec<Violation>,
) {
    let rule = &compiled.rule;
    let cite = |message: String| format!("{message} ({}: \"{}\")", rule.file, rule.quote);
    let mut values: Vec<(String, Result<Value, String>)> = Vec::new();
    let texts = |pairs: &[(String, String)], name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    match &rule.target {
        Target::Query(name, scalar) => values.extend(
            texts(query, name)
                .into_iter()
                .map(|t| (format!("query.{name}"), read_scalar(&t, *scalar))),
        ),
        Target::Path(name, scalar) => values.extend(
            texts(captured, name)
                .into_iter()
                .map(|t| (format!("path.{name}"), read_scalar(&t, *scalar))),
        ),
        Target::Header(name) => values.extend(request.headers.get_all(*name).iter().map(|v| {
            let text = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (format!("header.{name}"), Ok(Value::String(text)))
        })),
        Target::Body(pattern) => {
            if let Ok(body) = serde_json::from_slice::<Value>(request.body) {
                values.extend(
                    prose::select(&body, pattern)
                        .into_iter()
                        .map(|(pointer, v)| (format!("body{pointer}"), Ok(v.clone()))),
                );
            }
        }
    }
    for (location, value) in values {
        let before = violations.len();
        match value {
            Ok(value) => push_errors(&compiled.validator, &value, &location, rule.id, violations),
            Err(message) => violations.push(Violation::of(rule.id, &location, message)),
        }
        for violation in &mut violations[before..] {
            violation.message = cite(std::mem::take(&mut violation.message));
        }
    }
}

/// The body as the value its schema describes: JSON as parsed, a form as an object of its fields (read as
/// the schema's property types), a multipart body as an object of its parts' texts; `None` for media types
/// whose content is not described by a JSON schema (files, CSV, XML).
fn body_instance(
    essence: &str,
    content_type: &str,
    body: &[u8],
    schema: &LazySchema,
    document: &Document,
) -> Result<Option<Value>, String> {
    if is_json(essence) {
        return serde_json::from_slice(body)
            .map(Some)
            .map_err(|e| format!("the body is not JSON: {e}"));
    }
    let fields: Vec<(String, String)> = match essence {
        "application/x-www-form-urlencoded" => crate::query::pairs(&String::from_utf8_lossy(body)),
        "multipart/form-data" => crate::multipart::parts(content_type, body)?
            .into_iter()
            .map(|p| (p.name, String::from_utf8_lossy(&p.content).into_owned()))
            .collect(),
        _ => return Ok(None),
    };
    let resolved = schema::resolve(&schema.schema, &document.json);
    let properties = resolved.get("properties");
    let mut object = Map::new();
    for (name, text) in fields {
        let scalar = properties
            .and_then(|p| p.get(&name))
            .map(|p| schema::resolve(p, &document.json))
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str);
        let value = match scalar {
            Some("integer") => read_scalar(&text, Scalar::Integer)?,
            Some("number") => read_scalar(&text, Scalar::Number)?,
            Some("boolean") => read_scalar(&text, Scalar::Boolean)?,
            _ => Value::String(text),
        };
        object.insert(name, value);
    }
    Ok(Some(Value::Object(object)))
}

/// `application/json` of `application/json; charset=utf-8`.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn media_matches(declared: &str, essence: &str) -> bool {
    let declared = self::essence(declared);
    declared == essence
        || declared == "*/*"
        || declared
            .strip_suffix("/*")
            .is_some_and(|kind| essence.split('/').next() == Some(kind))
}

fn is_json(essence: &str) -> bool {
    essence == "application/json" || essence.ends_with("+json") || essence == "text/json"
}

/// Parses a JSON or YAML file into JSON (YAML keys such as `200` become strings).
fn parse(file: &SpecFile) -> Result<Value, String> {
    if file.path.ends_with(".json") {
        return serde_json::from_str(file.text).map_err(|e| e.to_string());
    }
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(file.text).map_err(|e| e.to_string())?;
    Ok(yaml_to_json(yaml))
}

fn yaml_to_json(yaml: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => n
            .as_i64()
            .map(Value::from)
            .or_else(|| n.as_u64().map(Value::from))
            .or_else(|| {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        Y::Number(n) => n.to_string(),
                        Y::Bool(b) => b.to_string(),
                        other => serde_yaml_ng::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

#[cfg(test)]
mod tests;
