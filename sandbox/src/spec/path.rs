//! Path templates (`/v3/orders/{purchaseOrderId}/acknowledge`) matched against request paths.

/// One segment of a template: literal text, or a parameter with optional literal text around it
/// (`{feedId}`, `{id}.json`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter {
        prefix: String,
        name: String,
        suffix: String,
    },
}

/// A path template with its server prefix (`/sell/inventory/v1`), and the query pairs some specifications
/// put in the path key (`/v3/report/reconreport/reconFile?reportVersion=v1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTemplate {
    pub text: String,
    segments: Vec<Segment>,
    pub fixed_query: Vec<(String, String)>,
}

impl PathTemplate {
    /// `prefix` (no trailing slash) followed by the specification's path key.
    pub fn new(prefix: &str, key: &str) -> Self {
        let (path, query) = key.split_once('?').unwrap_or((key, ""));
        let text = format!("{}{path}", prefix.trim_end_matches('/'));
        let segments = split(&text)
            .map(|s| match (s.find('{'), s.rfind('}')) {
                (Some(open), Some(close)) if open < close => Segment::Parameter {
                    prefix: s[..open].to_string(),
                    name: s[open + 1..close].to_string(),
                    suffix: s[close + 1..].to_string(),
                },
                _ => Segment::Literal(s.to_string()),
            })
            .collect();
        let fixed_query = crate::query::pairs(query);
        Self {
            text,
            segments,
            fixed_query,
        }
    }

    /// The path parameters (decoded) when `path` matches, else `None`.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let parts: Vec<&str> = split(path).collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut captured = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(text) if text == part => {}
                Segment::Literal(_) => return None,
                Segment::Parameter {
                    prefix,
                    name,
                    suffix,
                } => {
                    let value = part
                        .strip_prefix(prefix.as_str())?
                        .strip_suffix(suffix.as_str())?;
                    if value.is_empty() {
                        return None;
                    }
                    captured.push((name.clone(), crate::query::decode_component(value)));
                }
            }
        }
        Some(captured)
    }

    /// How specific the template is: literal segments count most, then fixed query pairs.
    pub fn specificity(&self) -> (usize, usize) {
        let literal = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        (literal, self.fixed_query.len())
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_capture_decoded_parameters() {
        let t = PathTemplate::new("", "/v3/feeds/{feedId}");
        assert_eq!(
            t.matches("/v3/feeds/12%4034"),
            Some(vec![("feedId".into(), "12@34".into())])
        );
        assert_eq!(t.matches("/v3/feeds"), None);
        assert_eq!(t.matches("/v3/feeds/1/errorReport"), None);
    }

    #[test]
    fn server_prefixes_and_query_keys_are_part_of_the_template() {
        let t = PathTemplate::new("/sell/inventory/v1", "/offer/{offerId}");
        assert!(t.matches("/sell/inventory/v1/offer/7").is_some());
        let v1 = PathTemplate::new(
            "",
            "/v3/report/reconreport/availableReconFiles?reportVersion=v1",
        );
        assert_eq!(v1.fixed_query, vec![("reportVersion".into(), "v1".into())]);
        assert!(
            v1.matches("/v3/report/reconreport/availableReconFiles")
                .is_some()
        );
        assert!(
            v1.specificity() > PathTemplate::new("", "/v3/report/reconreport/{x}").specificity()
        );
    }

    #[test]
    fn segments_with_text_around_a_parameter() {
        let t = PathTemplate::new("", "/admin/{id}.json");
        assert_eq!(
            t.matches("/admin/5.json"),
            Some(vec![("id".into(), "5".into())])
        );
        assert_eq!(t.matches("/admin/5.xml"), None);
    }
}
