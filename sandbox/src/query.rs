//! Query strings and `application/x-www-form-urlencoded` bodies: pairs in order, repeated names kept.

/// The decoded `name=value` pairs of a query string or form body (`+` is a space).
pub fn pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// The first value of `name`, decoded.
pub fn first(text: &str, name: &str) -> Option<String> {
    pairs(text)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// A form component: `+` is a space, then percent-decoding.
pub fn decode(component: &str) -> String {
    decode_component(&component.replace('+', " "))
}

/// Percent-decoding only (a path segment: `+` stays a plus).
pub fn decode_component(component: &str) -> String {
    percent_encoding::percent_decode_str(component)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_and_repeats_kept() {
        assert_eq!(
            pairs("a=1&b=x+y%2Bz&a=2&flag"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y+z".into()),
                ("a".into(), "2".into()),
                ("flag".into(), "".into()),
            ]
        );
        assert_eq!(first("a=1&a=2", "a").as_deref(), Some("1"));
        assert_eq!(decode_component("a+b%20c"), "a+b c");
    }
}
