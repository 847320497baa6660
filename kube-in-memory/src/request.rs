//! An HTTP request to the API, read into what it asks: the resource (`/api/v1/...` or `/apis/<group>/<version>/
//! ...`), namespace, name, subresource, verb and query parameters.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;

use crate::errors::ApiError;

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub verb: Verb,
    pub group: String,
    pub version: String,
    pub plural: String,
    /// `None`: across all namespaces (list and watch only).
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// `status`, or `None` for the main resource.
    pub subresource: Option<String>,
    pub query: BTreeMap<String, String>,
    pub content_type: String,
    pub user_agent: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
}

/// How a write treats fields the schema does not declare (`fieldValidation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    /// The default: dropped, with a `Warning` header each.
    Warn,
    /// Refused with 400 BadRequest.
    Strict,
}

fn decode(text: &str) -> String {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

impl Request {
    pub fn parse(
        method: &http::Method,
        uri: &http::Uri,
        content_type: &str,
        user_agent: &str,
    ) -> Result<Self, ApiError> {
        let path = uri.path();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match parts.as_slice() {
            ["api", version, rest @ ..] => ("", *version, rest),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => return Err(ApiError::no_such_resource(path)),
        };
        let (namespace, plural, name, subresource) = match rest {
            [plural] => (None, *plural, None, None),
            ["namespaces", ns, plural] => (Some(*ns), *plural, None, None),
            ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name), None),
            ["namespaces", ns, plural, name, sub] => (Some(*ns), *plural, Some(*name), Some(*sub)),
            _ => return Err(ApiError::no_such_resource(path)),
        };
        let query: BTreeMap<String, String> = uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(kv), String::new()),
            })
            .collect();
        let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
        let verb = match (method.as_str(), name.is_some()) {
            ("GET", false) if watch => Verb::Watch,
            ("GET", false) => Verb::List,
            ("GET", true) => Verb::Get,
            ("POST", false) => Verb::Create,
            ("PUT", true) => Verb::Update,
            ("PATCH", true) => Verb::Patch,
            ("DELETE", true) => Verb::Delete,
            (method, _) => {
                return Err(ApiError::method_not_allowed(format!(
                    "{method} is not supported on {path}"
                )));
            }
        };
        if namespace.is_none() && !matches!(verb, Verb::List | Verb::Watch) {
            return Err(ApiError::no_such_resource(path));
        }
        if subresource.is_some_and(|s| s != "status") {
            return Err(ApiError::no_such_resource(path));
        }
        Ok(Self {
            verb,
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            namespace: namespace.map(String::from),
            name: name.map(String::from),
            subresource: subresource.map(String::from),
            query,
            content_type: content_type.into(),
            user_agent: user_agent.into(),
        })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// `fieldManager`, else (except for apply, which requires one) the User-Agent's program name, as the API
    /// server defaults it.
    pub fn field_manager(&self) -> String {
        match self.param("fieldManager") {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => match self.user_agent.split('/').next() {
                Some(program) if !program.is_empty() => program.to_string(),
                _ => "unknown".to_string(),
            },
        }
    }

    pub fn force(&self) -> bool {
        self.param("force") == Some("true")
    }

    pub fn field_validation(&self) -> Result<FieldValidation, ApiError> {
        match self.param("fieldValidation") {
            None | Some("" | "Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation: invalid value {other:?}: must be one of Ignore, Warn, Strict"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_are_read() {
        let uri: http::Uri = "/apis/apps/v1/namespaces/shop/deployments?labelSelector=app.kubernetes.io%2Fname%3Dx&watch=true&resourceVersion=4"
            .parse()
            .unwrap();
        let r = Request::parse(&http::Method::GET, &uri, "", "kube-rs/1").unwrap();
        assert_eq!(r.verb, Verb::Watch);
        assert_eq!(
            (r.group.as_str(), r.plural.as_str()),
            ("apps", "deployments")
        );
        assert_eq!(r.param("labelSelector"), Some("app.kubernetes.io/name=x"));
        let uri: http::Uri = "/api/v1/namespaces/shop/services/web/status"
            .parse()
            .unwrap();
        let r = Request::parse(&http::Method::PATCH, &uri, "", "").unwrap();
        assert_eq!(r.subresource.as_deref(), Some("status"));
        assert_eq!(r.field_manager(), "unknown");
        let uri: http::Uri = "/apis/tradewind.dev/v1alpha1/marketplaces".parse().unwrap();
        let r = Request::parse(&http::Method::GET, &uri, "", "").unwrap();
        assert_eq!((r.verb, r.namespace), (Verb::List, None));
    }
}
