//! Reading a Swagger 2.0 or OpenAPI 3.x document into [`Operation`]s: method and path template (with the
//! servers' or `basePath` prefix), parameters (path-level and operation-level, `$ref`s resolved), request
//! body media types and schemas, and response schemas per status and media type.

use serde_json::{Map, Value, json};

use super::path::PathTemplate;
use super::schema::{Dialect, LazySchema, resolve};

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header,
}

impl Location {
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
        }
    }
}

/// How an array parameter's values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayStyle {
    /// `a=1&a=2` (OpenAPI 3 `form` with `explode`, Swagger `multi`).
    Repeated,
    /// `a=1,2` (Swagger `csv`, OpenAPI 3 `explode: false`), or another single-character separator.
    Separated(char),
}

/// The JSON type a parameter's text is read as, from its schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    String,
    Integer,
    Number,
    Boolean,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Scalar(Scalar),
    Array(Scalar),
    /// Objects in parameters (deepObject and the like) are passed through as text.
    Other,
}

#[derive(Debug)]
pub struct Parameter {
    pub name: String,
    pub location: Location,
    pub required: bool,
    pub shape: Shape,
    pub style: ArrayStyle,
    pub schema: LazySchema,
}

/// A media type an operation accepts or answers, with its schema when one is given.
#[derive(Debug)]
pub struct Media {
    pub media_type: String,
    pub schema: Option<LazySchema>,
}

#[derive(Debug)]
pub struct RequestBody {
    pub required: bool,
    pub content: Vec<Media>,
}

#[derive(Debug)]
pub struct Response {
    /// `200`, `4XX` or `default`.
    pub status: String,
    pub content: Vec<Media>,
}

/// One operation of a specification.
#[derive(Debug)]
pub struct Operation {
    pub id: String,
    pub method: String,
    /// The specification file it comes from (`walmart/walmart-marketplace-feeds.yml`).
    pub file: &'static str,
    /// Index of its document in the [`super::ApiSpec`].
    pub document: usize,
    pub templates: Vec<PathTemplate>,
    pub parameters: Vec<Parameter>,
    pub body: Option<RequestBody>,
    pub responses: Vec<Response>,
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// The dialect of a document, from its `swagger` or `openapi` field.
pub fn dialect(document: &Value) -> Result<Dialect, String> {
    if document.get("swagger").and_then(Value::as_str) == Some("2.0") {
        return Ok(Dialect::Swagger2);
    }
    match document.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0") => Ok(Dialect::OpenApi30),
        Some(v) if v.starts_with("3.1") => Ok(Dialect::OpenApi31),
        other => Err(format!(
            "neither Swagger 2.0 nor OpenAPI 3.0/3.1 (openapi: {other:?})"
        )),
    }
}

/// The path prefixes requests carry before the path keys: OpenAPI 3 servers' paths (variables at their
/// defaults), Swagger's `basePath`.
pub fn prefixes(document: &Value, dialect: Dialect) -> Vec<String> {
    let mut prefixes = Vec::new();
    if dialect == Dialect::Swagger2 {
        let base = document
            .get("basePath")
            .and_then(Value::as_str)
            .unwrap_or("");
        prefixes.push(base.trim_end_matches('/').to_string());
    } else {
        for server in document
            .get("servers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut url = server
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if let Some(variables) = server.get("variables").and_then(Value::as_object) {
                for (name, variable) in variables {
                    let default = variable
                        .get("default")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    url = url.replace(&format!("{{{name}}}"), default);
                }
            }
            let path = match url.split_once("://") {
                Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or(""),
                None => url.as_str(),
            };
            prefixes.push(path.trim_end_matches('/').to_string());
        }
    }
    if prefixes.is_empty() {
        prefixes.push(String::new());
    }
    prefixes.sort();
    prefixes.dedup();
    prefixes
}

/// Every operation of `document`.
pub fn operations(
    document: &Value,
    dialect: Dialect,
    file: &'static str,
    index: usize,
) -> Result<Vec<Operation>, String> {
    let prefixes = prefixes(document, dialect);
    let mut operations = Vec::new();
    let Some(paths) = document.get("paths").and_then(Value::as_object) else {
        return Ok(operations);
    };
    for (key, item) in paths {
        let item_pointer = format!("/paths/{}", escape(key));
        for method in METHODS {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            let op_pointer = format!("{item_pointer}/{method}");
            let id = operation
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{} {key}", method.to_uppercase()));
            let read = Reader {
                document,
                dialect,
                operation,
                op_pointer: &op_pointer,
            };
            let raw = read.raw_parameters(item, &item_pointer)?;
            let parameters = raw
                .iter()
                .filter_map(|(p, pointer)| read.parameter(p, pointer))
                .collect();
            operations.push(Operation {
                id,
                method: method.to_uppercase(),
                file,
                document: index,
                templates: prefixes
                    .iter()
                    .map(|prefix| PathTemplate::new(prefix, key))
                    .collect(),
                parameters,
                body: read.body(&raw),
                responses: read.responses(),
            });
        }
    }
    Ok(operations)
}

struct Reader<'a> {
    document: &'a Value,
    dialect: Dialect,
    operation: &'a Value,
    op_pointer: &'a str,
}

impl<'a> Reader<'a> {
    /// Path-level then operation-level parameters (an operation's overrides the path's of the same name and
    /// location), `$ref`s resolved, each with the pointer it was read at.
    fn raw_parameters(
        &self,
        item: &'a Value,
        item_pointer: &str,
    ) -> Result<Vec<(&'a Value, String)>, String> {
        let mut all: Vec<(&'a Value, String)> = Vec::new();
        let lists = [
            (item.get("parameters"), format!("{item_pointer}/parameters")),
            (
                self.operation.get("parameters"),
                format!("{}/parameters", self.op_pointer),
            ),
        ];
        for (list, base) in lists {
            for (i, parameter) in list
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let (parameter, pointer) = self.deref(parameter, format!("{base}/{i}"))?;
                let key = |p: &Value| {
                    (
                        p.get("name").and_then(Value::as_str).map(str::to_string),
                        p.get("in").and_then(Value::as_str).map(str::to_string),
                    )
                };
                all.retain(|(p, _)| key(p) != key(parameter));
                all.push((parameter, pointer));
            }
        }
        Ok(all)
    }

    /// A `$ref` (to `#/components/parameters/...`, `#/parameters/...`) followed to its target.
    fn deref(&self, value: &'a Value, pointer: String) -> Result<(&'a Value, String), String> {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let target = reference
                    .strip_prefix('#')
                    .ok_or_else(|| format!("reference {reference} leaves the document"))?;
                let found = self
                    .document
                    .pointer(target)
                    .ok_or_else(|| format!("reference {reference} points nowhere"))?;
                Ok((found, target.to_string()))
            }
            None => Ok((value, pointer)),
        }
    }

    fn parameter(&self, parameter: &Value, pointer: &str) -> Option<Parameter> {
        let location = match parameter.get("in").and_then(Value::as_str)? {
            "path" => Location::Path,
            "query" => Location::Query,
            "header" => Location::Header,
            _ => return None, // body, formData (the body's), cookie
        };
        let name = parameter.get("name").and_then(Value::as_str)?.to_string();
        let required =
            location == Location::Path || parameter.get("required") == Some(&Value::Bool(true));
        let (schema, shape_of) = if self.dialect == Dialect::Swagger2 {
            let inline = swagger_parameter_schema(parameter);
            (LazySchema::new(inline.clone()), inline)
        } else {
            match parameter.get("schema") {
                Some(schema) => (
                    LazySchema::at(self.document, &format!("{pointer}/schema")),
                    resolve(schema, self.document).clone(),
                ),
                None => (LazySchema::new(json!({})), json!({})),
            }
        };
        let shape = shape(&shape_of, self.document);
        let style = if self.dialect == Dialect::Swagger2 {
            match parameter
                .get("collectionFormat")
                .and_then(Value::as_str)
                .unwrap_or("csv")
            {
                "multi" => ArrayStyle::Repeated,
                "ssv" => ArrayStyle::Separated(' '),
                "tsv" => ArrayStyle::Separated('\t'),
                "pipes" => ArrayStyle::Separated('|'),
                _ => ArrayStyle::Separated(','),
            }
        } else {
            let style = parameter.get("style").and_then(Value::as_str);
            let explode = parameter
                .get("explode")
                .and_then(Value::as_bool)
                .unwrap_or(matches!(style, None | Some("form")) && location == Location::Query);
            match (explode, style) {
                (true, _) => ArrayStyle::Repeated,
                (false, Some("spaceDelimited")) => ArrayStyle::Separated(' '),
                (false, Some("pipeDelimited")) => ArrayStyle::Separated('|'),
                (false, _) => ArrayStyle::Separated(','),
            }
        };
        Some(Parameter {
            name,
            location,
            required,
            shape,
            style,
            schema,
        })
    }

    fn body(&self, raw: &[(&Value, String)]) -> Option<RequestBody> {
        if self.dialect == Dialect::Swagger2 {
            return self.swagger_body(raw);
        }
        let (body, pointer) = self
            .deref(
                self.operation.get("requestBody")?,
                format!("{}/requestBody", self.op_pointer),
            )
            .ok()?;
        Some(RequestBody {
            required: body.get("required") == Some(&Value::Bool(true)),
            content: content(
                self.document,
                body.get("content"),
                &format!("{pointer}/content"),
            ),
        })
    }

    fn swagger_body(&self, raw: &[(&Value, String)]) -> Option<RequestBody> {
        let consumes = self.media_list("consumes");
        if let Some((body, pointer)) = raw
            .iter()
            .find(|(p, _)| p.get("in").and_then(Value::as_str) == Some("body"))
        {
            let schema = format!("{pointer}/schema");
            return Some(RequestBody {
                required: body.get("required") == Some(&Value::Bool(true)),
                content: consumes
                    .iter()
                    .map(|m| Media {
                        media_type: m.clone(),
                        schema: Some(LazySchema::at(self.document, &schema)),
                    })
                    .collect(),
            });
        }
        let form: Vec<&Value> = raw
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| p.get("in").and_then(Value::as_str) == Some("formData"))
            .collect();
        if form.is_empty() {
            return None;
        }
        let mut properties = Map::new();
        let mut required = Vec::new();
        for p in &form {
            let Some(name) = p.get("name").and_then(Value::as_str) else {
                continue;
            };
            properties.insert(name.to_string(), swagger_parameter_schema(p));
            if p.get("required") == Some(&Value::Bool(true)) {
                required.push(json!(name));
            }
        }
        let mut schema = json!({"type": "object", "properties": properties});
        if !required.is_empty() {
            schema["required"] = Value::Array(required.clone());
        }
        Some(RequestBody {
            required: !required.is_empty(),
            content: consumes
                .iter()
                .map(|m| Media {
                    media_type: m.clone(),
                    schema: Some(LazySchema::new(schema.clone())),
                })
                .collect(),
        })
    }

    /// Swagger's `consumes`/`produces`: the operation's, else the document's, else JSON.
    fn media_list(&self, field: &str) -> Vec<String> {
        let list = self
            .operation
            .get(field)
            .or_else(|| self.document.get(field))
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if list.is_empty() {
            vec!["application/json".to_string()]
        } else {
            list
        }
    }

    fn responses(&self) -> Vec<Response> {
        let Some(responses) = self.operation.get("responses").and_then(Value::as_object) else {
            return Vec::new();
        };
        let produces = self.media_list("produces");
        responses
            .iter()
            .filter_map(|(status, response)| {
                let pointer = format!("{}/responses/{}", self.op_pointer, escape(status));
                let (response, pointer) = self.deref(response, pointer).ok()?;
                let content = if self.dialect == Dialect::Swagger2 {
                    match response.get("schema") {
                        Some(_) => produces
                            .iter()
                            .map(|m| Media {
                                media_type: m.clone(),
                                schema: Some(LazySchema::at(
                                    self.document,
                                    &format!("{pointer}/schema"),
                                )),
                            })
                            .collect(),
                        None => Vec::new(),
                    }
                } else {
                    content(
                        self.document,
                        response.get("content"),
                        &format!("{pointer}/content"),
                    )
                };
                Some(Response {
                    status: status.to_uppercase(),
                    content,
                })
            })
            .collect()
    }
}

/// An OpenAPI 3 `content` map as media types with their schemas.
fn content(document: &Value, content: Option<&Value>, pointer: &str) -> Vec<Media> {
    content
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(media_type, media)| Media {
            media_type: media_type.to_ascii_lowercase(),
            schema: media.get("schema").map(|_| {
                LazySchema::at(
                    document,
                    &format!("{pointer}/{}/schema", escape(media_type)),
                )
            }),
        })
        .collect()
}

/// A Swagger 2 non-body parameter's schema: the validation keywords it carries itself.
fn swagger_parameter_schema(parameter: &Value) -> Value {
    const KEYWORDS: &[&str] = &[
        "type",
        "format",
        "items",
        "enum",
        "maximum",
        "minimum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "multipleOf",
    ];
    let mut schema = Map::new();
    for keyword in KEYWORDS {
        if let Some(value) = parameter.get(*keyword) {
            schema.insert((*keyword).to_string(), value.clone());
        }
    }
    if let Some(Value::Object(items)) = schema.get_mut("items") {
        items.remove("collectionFormat");
    }
    Value::Object(schema)
}

fn shape(schema: &Value, document: &Value) -> Shape {
    let scalar = |s: &Value| match resolve(s, document).get("type").and_then(type_name) {
        Some("integer") => Some(Scalar::Integer),
        Some("number") => Some(Scalar::Number),
        Some("boolean") => Some(Scalar::Boolean),
        Some("string") | None => Some(Scalar::String),
        _ => None,
    };
    let schema = resolve(schema, document);
    match schema.get("type").and_then(type_name) {
        Some("array") => schema
            .get("items")
            .and_then(scalar)
            .map(Shape::Array)
            .unwrap_or(Shape::Other),
        Some("object") => Shape::Other,
        _ => scalar(schema).map(Shape::Scalar).unwrap_or(Shape::Other),
    }
}

/// `"integer"`, or the first non-null type of `["integer", "null"]`.
fn type_name(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

/// A JSON pointer token.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
