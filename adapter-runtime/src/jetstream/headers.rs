use async_nats::HeaderMap;

use crate::envelope::Headers;

/// Our plain header map as a NATS one.
pub fn to_header_map(headers: &Headers) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(name.as_str(), value.as_str());
    }
    map
}

/// A NATS header map as our plain one (the last value of a repeated header wins).
pub fn from_header_map(map: &HeaderMap) -> Headers {
    let mut headers = Headers::new();
    for (name, values) in map.iter() {
        if let Some(value) = values.last() {
            headers.insert(name.to_string(), value.to_string());
        }
    }
    headers
}
