//! What the API server itself decides about an object's metadata and parts: the fields no client sets (uid,
//! creation time, generation, resourceVersion, deletion time), what a write to the main resource or to
//! `/status` may change, when `generation` moves, which fields nobody owns, and the validation of `ObjectMeta`
//! (names, labels, annotations, finalizers of an object being deleted).

use serde_json::{Map, Value};

use crate::apply::fieldpath::Path;
use crate::resources::{Generation, Resource};
use crate::schema::validate::Cause;

/// Fields of `metadata` only the server writes; a client's values are replaced by the stored ones.
pub const SYSTEM_FIELDS: &[&str] = &[
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "resourceVersion",
    "selfLink",
    "managedFields",
];

fn meta(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = Value::Object(Map::new());
    }
    match object.get_mut("metadata") {
        Some(Value::Object(map)) => map,
        _ => unreachable!("metadata was just made an object"),
    }
}

pub fn get<'v>(object: &'v Value, field: &str) -> Option<&'v Value> {
    meta(object)?.get(field)
}

pub fn get_str<'v>(object: &'v Value, field: &str) -> Option<&'v str> {
    get(object, field)?.as_str()
}

pub fn set(object: &mut Value, field: &str, value: Value) {
    meta_mut(object).insert(field.to_string(), value);
}

pub fn remove(object: &mut Value, field: &str) {
    meta_mut(object).remove(field);
}

pub fn finalizers(object: &Value) -> Vec<String> {
    get(object, "finalizers")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

pub fn is_deleting(object: &Value) -> bool {
    get(object, "deletionTimestamp").is_some_and(|v| !v.is_null())
}

/// The uids of the owners `object` names.
pub fn owner_uids(object: &Value) -> Vec<String> {
    get(object, "ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid")?.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Drops the system fields a client sent (a create starts from none).
pub fn strip_system_fields(object: &mut Value) {
    let meta = meta_mut(object);
    for field in SYSTEM_FIELDS {
        meta.remove(*field);
    }
}

/// Puts the stored object's system fields (and name and namespace) back into a written one.
pub fn keep_system_fields(object: &mut Value, stored: &Value) {
    for field in SYSTEM_FIELDS.iter().chain(&["name", "namespace"]) {
        match get(stored, field).cloned() {
            Some(value) => set(object, field, value),
            None => remove(object, field),
        }
    }
}

/// What a write may change: through the main resource of a kind with a status subresource, everything but
/// `status` (kept as stored); through `/status`, only `status` (everything else kept as stored).
pub fn confine_to_subresource(
    resource: &Resource,
    subresource: Option<&str>,
    written: Value,
    stored: Option<&Value>,
) -> Value {
    match (subresource, stored) {
        (Some(_), Some(stored)) => {
            let mut out = stored.clone();
            match written.get("status") {
                Some(status) => out["status"] = status.clone(),
                None => {
                    if let Some(map) = out.as_object_mut() {
                        map.remove("status");
                    }
                }
            }
            out
        }
        (None, _) if resource.status_subresource => {
            let mut out = written;
            if let Some(map) = out.as_object_mut() {
                match stored.and_then(|s| s.get("status")) {
                    Some(status) => {
                        map.insert("status".into(), status.clone());
                    }
                    None => {
                        map.remove("status");
                    }
                }
            }
            out
        }
        _ => written,
    }
}

/// Whether the change from `old` to `new` moves `metadata.generation`.
pub fn moves_generation(resource: &Resource, old: &Value, new: &Value) -> bool {
    let part = |v: &Value, name: &str| v.get(name).cloned();
    match resource.generation {
        Generation::None => false,
        Generation::Spec => part(old, "spec") != part(new, "spec"),
        Generation::SpecOrAnnotations => {
            part(old, "spec") != part(new, "spec")
                || get(old, "annotations") != get(new, "annotations")
        }
        Generation::AllButMetadata => {
            let rest = |v: &Value| -> Map<String, Value> {
                v.as_object()
                    .map(|m| {
                        m.iter()
                            .filter(|(k, _)| {
                                *k != "metadata" && !(resource.status_subresource && *k == "status")
                            })
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            rest(old) != rest(new)
        }
    }
}

/// The fields no manager owns: the identity and system metadata, and what the subresource written does not
/// change (`status` through the main resource of a kind with a status subresource; everything else through
/// `/status`).
pub fn unowned(resource: &Resource, subresource: Option<&str>) -> impl Fn(&Path) -> bool + use<> {
    let status_apart = resource.status_subresource;
    let through_status = subresource.is_some();
    move |path: &Path| {
        let first = path.first().map(String::as_str);
        let system = match (first, path.get(1).map(String::as_str)) {
            (Some("f:apiVersion" | "f:kind"), _) => true,
            (Some("f:metadata"), None) => true,
            (Some("f:metadata"), Some(field)) => {
                field == "f:name"
                    || field == "f:namespace"
                    || SYSTEM_FIELDS.iter().any(|s| field == format!("f:{s}"))
            }
            _ => false,
        };
        let status = first == Some("f:status");
        system || (through_status && !status) || (!through_status && status_apart && status)
    }
}

fn is_dns_label(name: &str, first_alpha: bool) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || (!first_alpha && b.is_ascii_digit()))
        && bytes
            .last()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(|label| is_dns_label(label, false))
}

/// A label name (or the name part of a qualified key): at most 63 alphanumerics, `-`, `_`, `.`, starting and
/// ending alphanumeric.
fn is_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

fn is_qualified_name(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_name(name),
        None => is_label_name(key),
    }
}

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS_1035: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// The label keys and values, and annotation keys, of the `ObjectMeta` at `meta` (at field path `at`).
fn validate_labels_and_annotations(meta: Option<&Value>, at: &str, causes: &mut Vec<Cause>) {
    let entries = |field: &str| -> Vec<(String, Value)> {
        meta.and_then(|m| m.get(field))
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    };
    for (key, value) in entries("labels") {
        if !is_qualified_name(&key) {
            causes.push(Cause::invalid(
                format!("{at}.labels"),
                &Value::String(key.clone()),
                QUALIFIED,
            ));
        }
        let text = value.as_str().unwrap_or_default();
        if !text.is_empty() && !is_label_name(text) {
            causes.push(Cause::invalid(
                format!("{at}.labels.{key}"),
                &value,
                if text.len() > 63 {
                    "must be no more than 63 characters"
                } else {
                    LABEL_VALUE
                },
            ));
        }
    }
    for (key, _) in entries("annotations") {
        if !is_qualified_name(&key.to_lowercase()) {
            causes.push(Cause::invalid(
                format!("{at}.annotations"),
                &Value::String(key.clone()),
                QUALIFIED,
            ));
        }
    }
}

/// The `ObjectMeta` rules every object follows: its name, label keys and values, annotation keys (and those of
/// its pod template).
pub fn validate(resource: &Resource, object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    match get_str(object, "name") {
        None | Some("") => causes.push(Cause::new(
            "FieldValueRequired",
            "metadata.name",
            "Required value: name or generateName is required",
        )),
        Some(name) if resource.name_is_label && !is_dns_label(name, true) => causes.push(
            Cause::invalid("metadata.name", &Value::String(name.into()), DNS_1035),
        ),
        Some(name) if !is_dns_subdomain(name) => causes.push(Cause::invalid(
            "metadata.name",
            &Value::String(name.into()),
            SUBDOMAIN,
        )),
        Some(_) => {}
    }
    validate_labels_and_annotations(object.get("metadata"), "metadata", &mut causes);
    // A pod template's metadata is validated as a pod's (labels and annotations of the pods to be).
    if resource.pod_template {
        validate_labels_and_annotations(
            object.pointer("/spec/template/metadata"),
            "spec.template.metadata",
            &mut causes,
        );
    }
    causes
}

/// Once an object is being deleted its finalizers can only be removed.
pub fn validate_finalizers(stored: &Value, written: &Value) -> Vec<Cause> {
    if !is_deleting(stored) {
        return Vec::new();
    }
    let before = finalizers(stored);
    if finalizers(written).iter().any(|f| !before.contains(f)) {
        vec![Cause::forbidden(
            "metadata.finalizers",
            "no new finalizers can be added if the object is being deleted",
        )]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_follow_the_api_servers_rules() {
        assert!(is_dns_subdomain("portal-adapter.v2"));
        assert!(!is_dns_subdomain("Portal"));
        assert!(!is_dns_subdomain("-x"));
        assert!(is_dns_label("portal-adapter", true));
        assert!(!is_dns_label("1portal", true));
        assert!(is_qualified_name("app.kubernetes.io/managed-by"));
        assert!(!is_qualified_name("app.kubernetes.io/"));
        assert!(is_label_name("tradewind-operator"));
        assert!(!is_label_name(&"x".repeat(64)));
    }
}
