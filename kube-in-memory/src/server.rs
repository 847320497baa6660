//! The API's verbs over the store: each write decodes the object as the API server does (unknown fields,
//! defaults, validation), keeps what only the server sets, confines itself to its subresource, moves
//! `generation`, records field ownership, and changes nothing (no new resourceVersion, no watch event) when
//! the object would stay the same. Deletion honours finalizers and garbage-collects dependents.

use std::sync::Mutex;

use serde_json::{Value, json};

use crate::apply::managed::{self, ApplyError, ManagedFields, Operation, Writer};
use crate::errors::{ApiError, Subject};
use crate::gc::{self, Step};
use crate::metadata;
use crate::request::{FieldValidation, Request, Verb};
use crate::resources::{Generation, Resource, Resources};
use crate::schema::structural::{default, drop_nulls, prune};
use crate::selector::{FieldSelector, Selector};
use crate::store::{Key, Store};
use crate::watch::Watch;

/// A successful answer: HTTP code, body, and `Warning` headers.
#[derive(Debug)]
pub struct Answer {
    pub code: u16,
    pub body: Value,
    pub warnings: Vec<String>,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Self {
            code: 200,
            body,
            warnings: Vec::new(),
        }
    }
}

/// Whose fields a write changes: an update's writer (its managed fields are computed from the change), or the
/// managed fields an apply computed.
enum Ownership {
    Update(Writer),
    Apply(ManagedFields),
}

/// The resource and request a write serves.
#[derive(Clone, Copy)]
struct Call<'a> {
    resource: &'a Resource,
    req: &'a Request,
}

pub struct Server {
    resources: Resources,
    pub store: Mutex<Store>,
    /// `creationTimestamp` of objects created from now on (`None`: the current time).
    pub creation_time: Mutex<Option<String>>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The body of a request as JSON (an apply configuration may be YAML).
fn parse_body(body: &[u8], yaml: bool) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    match serde_json::from_slice(body) {
        Ok(value) => Ok(value),
        Err(_) if yaml => serde_yaml_ng::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}"))),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body of the request is not valid JSON: {e}"
        ))),
    }
}

fn without_managed_fields(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    out
}

/// The same object, apart from its resourceVersion and when its managers last wrote.
fn unchanged(stored: &Value, written: &Value) -> bool {
    let bare = |v: &Value| {
        let mut v = without_managed_fields(v);
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
        }
        v
    };
    bare(stored) == bare(written)
        && ManagedFields::of(stored).same_owners(&ManagedFields::of(written))
}

impl Server {
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            resources: Resources::served()?,
            store: Mutex::new(Store::default()),
            creation_time: Mutex::new(None),
        })
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn resource(&self, req: &Request) -> Result<std::sync::Arc<Resource>, ApiError> {
        self.resources
            .get(&req.group, &req.version, &req.plural)
            .ok_or_else(|| {
                ApiError::no_such_resource(&format!(
                    "{}/{}, {}",
                    req.group, req.version, req.plural
                ))
            })
    }

    /// Answers a request other than a watch.
    pub fn handle(&self, req: &Request, body: &[u8]) -> Result<Answer, ApiError> {
        let resource = self.resource(req)?;
        if req.param("dryRun").is_some() {
            return Err(ApiError::bad_request(
                "dryRun is not supported by the in-memory API",
            ));
        }
        let mut store = self.store();
        match req.verb {
            Verb::Get => self.get(&store, &resource, req),
            Verb::List => self.list(&store, &resource, req),
            Verb::Create => self.create(&mut store, &resource, req, body),
            Verb::Update => self.update(&mut store, &resource, req, body),
            Verb::Patch => self.patch(&mut store, &resource, req, body),
            Verb::Delete => self.delete(&mut store, &resource, req, body),
            Verb::Watch => Err(ApiError::bad_request("a watch is answered as a stream")),
        }
    }

    /// The watch a request asks for, starting after its `resourceVersion`.
    pub fn watch(&self, req: &Request) -> Result<Watch, ApiError> {
        let resource = self.resource(req)?;
        Ok(Watch {
            group: resource.group.to_string(),
            plural: resource.plural.clone(),
            namespace: req.namespace.clone(),
            labels: Selector::parse(req.param("labelSelector").unwrap_or_default())
                .map_err(ApiError::bad_request)?,
            fields: FieldSelector::parse(req.param("fieldSelector").unwrap_or_default())
                .map_err(ApiError::bad_request)?,
            after: req
                .param("resourceVersion")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        })
    }

    pub fn watch_events(&self, watch: &Watch) -> (Vec<u8>, u64) {
        watch.events(&self.store())
    }

    pub fn version(&self) -> u64 {
        self.store().version()
    }

    fn key(resource: &Resource, req: &Request, name: &str) -> Key {
        Key {
            group: resource.group.to_string(),
            plural: resource.plural.clone(),
            namespace: req.namespace.clone().unwrap_or_default(),
            name: name.to_string(),
        }
    }

    fn subject<'a>(resource: &'a Resource, name: &'a str) -> Subject<'a> {
        Subject {
            group: resource.group,
            kind: &resource.kind,
            plural: &resource.plural,
            name,
        }
    }

    fn existing(
        &self,
        store: &Store,
        resource: &Resource,
        req: &Request,
    ) -> Result<(Key, Value), ApiError> {
        let name = req.name.as_deref().unwrap_or_default();
        let key = Self::key(resource, req, name);
        match store.get(&key) {
            Some(object) => Ok((key, object.clone())),
            None => Err(ApiError::not_found(Self::subject(resource, name))),
        }
    }

    fn get(&self, store: &Store, resource: &Resource, req: &Request) -> Result<Answer, ApiError> {
        self.existing(store, resource, req)
            .map(|(_, o)| Answer::ok(o))
    }

    fn list(&self, store: &Store, resource: &Resource, req: &Request) -> Result<Answer, ApiError> {
        let labels = Selector::parse(req.param("labelSelector").unwrap_or_default())
            .map_err(ApiError::bad_request)?;
        let fields = FieldSelector::parse(req.param("fieldSelector").unwrap_or_default())
            .map_err(ApiError::bad_request)?;
        let items: Vec<Value> = store
            .list(resource.group, &resource.plural, req.namespace.as_deref())
            .map(|(_, o)| o)
            .filter(|o| labels.matches_object(o) && fields.matches_object(o))
            .cloned()
            .collect();
        Ok(Answer::ok(json!({
            "apiVersion": resource.api_version(),
            "kind": format!("{}List", resource.kind),
            "metadata": {"resourceVersion": store.version().to_string()},
            "items": items,
        })))
    }

    /// The request body as an object of this resource's kind (apiVersion and kind filled in when absent,
    /// refused when they name another), in the request's namespace.
    fn object_of(resource: &Resource, req: &Request, body: Value) -> Result<Value, ApiError> {
        let Value::Object(_) = body else {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        };
        let mut object = body;
        let api_version = resource.api_version();
        for (field, expected) in [
            ("apiVersion", api_version.as_str()),
            ("kind", resource.kind.as_str()),
        ] {
            match object.get(field).and_then(Value::as_str) {
                None | Some("") => object[field] = json!(expected),
                Some(given) if given == expected => {}
                Some(given) => {
                    return Err(ApiError::bad_request(format!(
                        "{field} {given:?} does not match the request's {expected:?}"
                    )));
                }
            }
        }
        let namespace = req.namespace.clone().unwrap_or_default();
        match metadata::get_str(&object, "namespace") {
            None | Some("") => metadata::set(&mut object, "namespace", json!(namespace)),
            Some(ns) if ns == namespace => {}
            Some(_) => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        if let (Some(url), Some(body)) = (&req.name, metadata::get_str(&object, "name"))
            && url != body
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body}) does not match the name on the URL ({url})"
            )));
        }
        Ok(object)
    }

    /// Decodes a written object as the API server does: unknown fields dropped (or refused, with
    /// `fieldValidation=Strict`), defaults applied (custom resources), then validated.
    fn decode(
        resource: &Resource,
        req: &Request,
        mut object: Value,
        stored: Option<&Value>,
    ) -> Result<(Value, Vec<String>), ApiError> {
        metadata::remove(&mut object, "managedFields");
        let dropped = prune(&mut object, resource.schema.root(), "");
        let mut warnings = Vec::new();
        if !dropped.is_empty() {
            let named: Vec<String> = dropped
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect();
            match req.field_validation()? {
                FieldValidation::Strict => {
                    return Err(ApiError::bad_request(format!(
                        "strict decoding error: {}",
                        named.join(", ")
                    )));
                }
                FieldValidation::Warn => warnings = named,
                FieldValidation::Ignore => {}
            }
        }
        if resource.custom {
            default(&mut object, resource.schema.root());
        } else {
            drop_nulls(&mut object);
        }
        let name = metadata::get_str(&object, "name")
            .unwrap_or_default()
            .to_string();
        let mut causes = metadata::validate(resource, &object);
        if let Some(stored) = stored {
            causes.extend(metadata::validate_finalizers(stored, &object));
        }
        causes.extend(resource.validator.causes(&object, stored));
        crate::schema::validate::duplicates(&object, resource.schema.root(), "", &mut causes);
        if causes.is_empty() {
            Ok((object, warnings))
        } else {
            Err(ApiError::invalid(Self::subject(resource, &name), causes))
        }
    }

    fn writer(req: &Request, operation: Operation) -> Writer {
        Writer {
            manager: req.field_manager(),
            operation,
            subresource: req.subresource.clone().unwrap_or_default(),
        }
    }

    /// The managed fields after a create, update or patch by `writer`.
    fn managed_after_update(
        resource: &Resource,
        req: &Request,
        writer: &Writer,
        stored: &Value,
        written: &Value,
    ) -> Result<ManagedFields, ApiError> {
        let now = now();
        let ignored = metadata::unowned(resource, req.subresource.as_deref());
        let cx = managed::Context {
            node: resource.schema.root(),
            api_version: &resource.api_version(),
            now: &now,
            ignored: &ignored,
        };
        managed::update(
            &without_managed_fields(stored),
            written,
            &ManagedFields::of(stored),
            writer,
            &cx,
        )
        .map_err(|e| ApiError::bad_request(e.to_string()))
    }

    /// Stores a new object: decoded, owned by its writer, with its uid, creation time and generation 1.
    fn insert_new(
        &self,
        store: &mut Store,
        call: Call<'_>,
        key: Key,
        object: Value,
        ownership: Ownership,
    ) -> Result<Answer, ApiError> {
        let Call { resource, req } = call;
        let mut object = metadata::confine_to_subresource(resource, None, object, None);
        metadata::strip_system_fields(&mut object);
        let (mut object, warnings) = Self::decode(resource, req, object, None)?;
        let managed = match ownership {
            Ownership::Apply(managed) => managed,
            Ownership::Update(writer) => {
                Self::managed_after_update(resource, req, &writer, &json!({}), &object)?
            }
        };
        managed.write_to(&mut object);
        metadata::set(&mut object, "uid", json!(uuid::Uuid::new_v4().to_string()));
        let created = self
            .creation_time
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(now);
        metadata::set(&mut object, "creationTimestamp", json!(created));
        if resource.generation != Generation::None {
            metadata::set(&mut object, "generation", json!(1));
        }
        let stored = store.put(key, object);
        Ok(Answer {
            code: 201,
            body: stored,
            warnings,
        })
    }

    fn create(
        &self,
        store: &mut Store,
        resource: &Resource,
        req: &Request,
        body: &[u8],
    ) -> Result<Answer, ApiError> {
        if req.subresource.is_some() {
            return Err(ApiError::method_not_allowed("a subresource is not created"));
        }
        let mut object = Self::object_of(resource, req, parse_body(body, false)?)?;
        let name = match (
            metadata::get_str(&object, "name"),
            metadata::get_str(&object, "generateName"),
        ) {
            (Some(name), _) if !name.is_empty() => name.to_string(),
            (_, Some(prefix)) if !prefix.is_empty() => {
                let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..5].to_string();
                let name = format!("{prefix}{suffix}");
                metadata::set(&mut object, "name", json!(name));
                name
            }
            _ => String::new(),
        };
        let key = Self::key(resource, req, &name);
        if !name.is_empty() && store.get(&key).is_some() {
            return Err(ApiError::already_exists(Self::subject(resource, &name)));
        }
        let writer = Self::writer(req, Operation::Update);
        self.insert_new(
            store,
            Call { resource, req },
            key,
            object,
            Ownership::Update(writer),
        )
    }

    /// Finishes a write to a stored object: `written` holds the result of the request (already confined to
    /// its subresource, with the stored system fields); `applied`: the managed fields an apply computed.
    fn write(
        &self,
        store: &mut Store,
        call: Call<'_>,
        key: Key,
        stored: Value,
        written: Value,
        ownership: Ownership,
    ) -> Result<Answer, ApiError> {
        let Call { resource, req } = call;
        let (mut object, warnings) = Self::decode(resource, req, written, Some(&stored))?;
        if metadata::moves_generation(resource, &stored, &object) {
            let generation = metadata::get(&stored, "generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            metadata::set(&mut object, "generation", json!(generation + 1));
        }
        let managed = match ownership {
            Ownership::Apply(managed) => managed,
            Ownership::Update(writer) => {
                Self::managed_after_update(resource, req, &writer, &stored, &object)?
            }
        };
        managed.write_to(&mut object);
        if unchanged(&stored, &object) {
            return Ok(Answer {
                warnings,
                ..Answer::ok(stored)
            });
        }
        if metadata::is_deleting(&object) && metadata::finalizers(&object).is_empty() {
            // The last finalizer went: the object goes, as it is now.
            let removed = self
                .remove(store, &key, Some(object), false)
                .unwrap_or_default();
            return Ok(Answer {
                warnings,
                ..Answer::ok(removed)
            });
        }
        let stored = store.put(key, object);
        Ok(Answer {
            warnings,
            ..Answer::ok(stored)
        })
    }

    fn check_version(resource: &Resource, stored: &Value, written: &Value) -> Result<(), ApiError> {
        match metadata::get_str(written, "resourceVersion") {
            Some(v) if !v.is_empty() && Some(v) != metadata::get_str(stored, "resourceVersion") => {
                Err(ApiError::conflict(
                    Self::subject(
                        resource,
                        metadata::get_str(stored, "name").unwrap_or_default(),
                    ),
                    "the object has been modified; please apply your changes to the latest version and try again",
                ))
            }
            _ => Ok(()),
        }
    }

    fn update(
        &self,
        store: &mut Store,
        resource: &Resource,
        req: &Request,
        body: &[u8],
    ) -> Result<Answer, ApiError> {
        let (key, stored) = self.existing(store, resource, req)?;
        let written = parse_body(body, false)?;
        self.update_with(store, Call { resource, req }, key, stored, written)
    }

    /// Finishes a PUT or a (non-apply) patch: `written` is the whole object the request leads to.
    fn update_with(
        &self,
        store: &mut Store,
        call: Call<'_>,
        key: Key,
        stored: Value,
        written: Value,
    ) -> Result<Answer, ApiError> {
        let Call { resource, req } = call;
        let written = Self::object_of(resource, req, written)?;
        Self::check_version(resource, &stored, &written)?;
        let mut written = metadata::confine_to_subresource(
            resource,
            req.subresource.as_deref(),
            written,
            Some(&stored),
        );
        metadata::keep_system_fields(&mut written, &stored);
        let writer = Self::writer(req, Operation::Update);
        self.write(store, call, key, stored, written, Ownership::Update(writer))
    }

    fn patch(
        &self,
        store: &mut Store,
        resource: &Resource,
        req: &Request,
        body: &[u8],
    ) -> Result<Answer, ApiError> {
        let content_type = req
            .content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        if content_type == "application/apply-patch+yaml" {
            return self.apply(store, resource, req, body);
        }
        let (key, stored) = self.existing(store, resource, req)?;
        let patch = parse_body(body, false)?;
        let mut written = stored.clone();
        match content_type {
            "application/merge-patch+json" => crate::patch::merge_patch(&mut written, &patch),
            "application/json-patch+json" => crate::patch::json_patch(&mut written, &patch)
                .map_err(|e| ApiError {
                    code: 422,
                    reason: "Invalid",
                    message: format!("the JSON patch could not be applied: {e}"),
                    details: None,
                })?,
            other => return Err(ApiError::unsupported_media_type(other)),
        }
        self.update_with(store, Call { resource, req }, key, stored, written)
    }

    /// Server-side apply: the configuration merged into the stored object (or a new one) with field
    /// ownership and conflicts.
    fn apply(
        &self,
        store: &mut Store,
        resource: &Resource,
        req: &Request,
        body: &[u8],
    ) -> Result<Answer, ApiError> {
        if req.param("fieldManager").is_none_or(str::is_empty) {
            return Err(ApiError::bad_request(
                "fieldManager: Required value: is required for apply requests",
            ));
        }
        let config = parse_body(body, true)?;
        for field in ["apiVersion", "kind"] {
            if config
                .get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(ApiError::bad_request(format!(
                    "{field} must be set in an apply configuration"
                )));
            }
        }
        let mut config = Self::object_of(resource, req, config)?;
        let name = req.name.clone().unwrap_or_default();
        metadata::set(&mut config, "name", json!(name));
        // What the subresource written does not change is not part of the configuration.
        if let Some(map) = config.as_object_mut() {
            if req.subresource.is_some() {
                map.retain(|k, _| {
                    matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")
                });
                if let Some(Value::Object(meta)) = map.get_mut("metadata") {
                    meta.retain(|k, _| k == "name" || k == "namespace");
                }
            } else if resource.status_subresource {
                map.remove("status");
            }
        }
        let key = Self::key(resource, req, &name);
        let stored = store.get(&key).cloned();
        if let Some(stored) = &stored {
            Self::check_version(resource, stored, &config)?;
        } else if req.subresource.is_some() {
            return Err(ApiError::not_found(Self::subject(resource, &name)));
        }
        let mut config_clean = config.clone();
        metadata::strip_system_fields(&mut config_clean);
        let live = match &stored {
            Some(stored) => without_managed_fields(stored),
            None => json!({"apiVersion": config["apiVersion"], "kind": config["kind"],
                           "metadata": {"name": name, "namespace": req.namespace}}),
        };
        let now = now();
        let ignored = metadata::unowned(resource, req.subresource.as_deref());
        let cx = managed::Context {
            node: resource.schema.root(),
            api_version: &resource.api_version(),
            now: &now,
            ignored: &ignored,
        };
        let writer = Self::writer(req, Operation::Apply);
        let previous = stored.as_ref().map(ManagedFields::of).unwrap_or_default();
        let (merged, managed) =
            managed::apply(&live, &config_clean, &previous, &writer, req.force(), &cx).map_err(
                |e| match e {
                    ApplyError::Conflicts(conflicts) => {
                        ApiError::apply_conflicts(Self::subject(resource, &name), &conflicts)
                    }
                    ApplyError::Merge(e) => ApiError::bad_request(format!(
                        "failed to create typed patch object ({}, Kind={}): {e}",
                        resource.api_version(),
                        resource.kind
                    )),
                },
            )?;
        match stored {
            None => self.insert_new(
                store,
                Call { resource, req },
                key,
                merged,
                Ownership::Apply(managed),
            ),
            Some(stored) => {
                let mut written = metadata::confine_to_subresource(
                    resource,
                    req.subresource.as_deref(),
                    merged,
                    Some(&stored),
                );
                metadata::keep_system_fields(&mut written, &stored);
                self.write(
                    store,
                    Call { resource, req },
                    key,
                    stored,
                    written,
                    Ownership::Apply(managed),
                )
            }
        }
    }

    fn delete(
        &self,
        store: &mut Store,
        resource: &Resource,
        req: &Request,
        body: &[u8],
    ) -> Result<Answer, ApiError> {
        if req.subresource.is_some() {
            return Err(ApiError::method_not_allowed("a subresource is not deleted"));
        }
        let (key, stored) = self.existing(store, resource, req)?;
        let options = parse_body(body, false)?;
        let subject = Self::subject(resource, &key.name);
        for (field, actual) in [
            ("uid", metadata::get_str(&stored, "uid")),
            (
                "resourceVersion",
                metadata::get_str(&stored, "resourceVersion"),
            ),
        ] {
            if let Some(wanted) = options
                .pointer(&format!("/preconditions/{field}"))
                .and_then(Value::as_str)
                && Some(wanted) != actual
            {
                return Err(ApiError::conflict(
                    subject,
                    &format!(
                        "Precondition failed: {field} in precondition: {wanted}, {field} in object meta: {}",
                        actual.unwrap_or_default()
                    ),
                ));
            }
        }
        let policy = options
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .or(req.param("propagationPolicy"))
            .unwrap_or("Background");
        let orphan = match policy {
            "Background" => false,
            "Orphan" => true,
            "Foreground" => {
                return Err(ApiError::bad_request(
                    "propagationPolicy Foreground is not supported by the in-memory API (Background and Orphan are)",
                ));
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy: Unsupported value: {other:?}"
                )));
            }
        };
        if metadata::finalizers(&stored).is_empty() {
            let removed = self.remove(store, &key, None, orphan).unwrap_or_default();
            return Ok(Answer::ok(removed));
        }
        // Held by its finalizers: marked for deletion, 202 Accepted.
        let body = if metadata::is_deleting(&stored) {
            stored
        } else {
            let mut marked = stored;
            metadata::set(&mut marked, "deletionTimestamp", json!(now()));
            metadata::set(&mut marked, "deletionGracePeriodSeconds", json!(0));
            store.put(key, marked)
        };
        Ok(Answer {
            code: 202,
            body,
            warnings: Vec::new(),
        })
    }

    /// Removes the object at `key` (in its `last` state, if given) and collects its dependents; returns the
    /// removed object.
    fn remove(
        &self,
        store: &mut Store,
        key: &Key,
        last: Option<Value>,
        orphan: bool,
    ) -> Option<Value> {
        let removed = store.remove(key, last)?;
        let mut work: Vec<(String, String, bool)> = metadata::get_str(&removed, "uid")
            .map(|uid| vec![(key.namespace.clone(), uid.to_string(), orphan)])
            .unwrap_or_default();
        while let Some((namespace, uid, orphan)) = work.pop() {
            for step in gc::after_removal(store, &namespace, &uid, orphan) {
                match step {
                    Step::DropOwnerReference { key, uid } => {
                        let Some(mut object) = store.get(&key).cloned() else {
                            continue;
                        };
                        if let Some(Value::Array(refs)) = object
                            .get_mut("metadata")
                            .and_then(|m| m.get_mut("ownerReferences"))
                        {
                            refs.retain(|r| {
                                r.get("uid").and_then(Value::as_str) != Some(uid.as_str())
                            });
                        }
                        store.put(key, object);
                    }
                    Step::Delete(key) => {
                        let Some(object) = store.get(&key).cloned() else {
                            continue;
                        };
                        if metadata::finalizers(&object).is_empty() {
                            if let Some(gone) = store.remove(&key, None)
                                && let Some(uid) = metadata::get_str(&gone, "uid")
                            {
                                work.push((key.namespace.clone(), uid.to_string(), false));
                            }
                        } else if !metadata::is_deleting(&object) {
                            let mut marked = object;
                            metadata::set(&mut marked, "deletionTimestamp", json!(now()));
                            metadata::set(&mut marked, "deletionGracePeriodSeconds", json!(0));
                            store.put(key, marked);
                        }
                    }
                }
            }
        }
        Some(removed)
    }
}
