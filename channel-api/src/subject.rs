//! NATS subject tokens. Business keys (SKUs, order ids) go into subjects so that last-value streams keep one
//! message per key, but a SKU may hold characters NATS gives a meaning to (`.`, `*`, `>`, spaces). Such keys
//! are encoded so that every key maps to exactly one token and back.

/// Encodes `key` as one NATS subject token: ASCII letters, digits, `-` and `_` stay; every other byte becomes
/// `~XX` (two upper-case hex digits), `~` included, so decoding is unambiguous.
pub fn encode_token(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("~{byte:02X}"));
        }
    }
    out
}

/// Encodes `key` as a JetStream KV key (`[-/_=.A-Za-z0-9]`): like [`encode_token`], with `=` in place of `~`
/// (which KV keys do not allow). `=` itself is always encoded, so the result stays unambiguous.
pub fn encode_kv_key(key: &str) -> String {
    encode_token(key).replace('~', "=")
}

/// Decodes a token made by [`encode_token`]. `None` when the token was not made by it.
pub fn decode_token(token: &str) -> Option<String> {
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'~' {
            let hex = token.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_skus_are_unchanged() {
        assert_eq!(encode_token("TW-1001_blue"), "TW-1001_blue");
    }

    #[test]
    fn reserved_characters_are_encoded_and_decoded() {
        for key in ["A.B", "A*B", "A>B", "A B", "A~2EB", "sku/é"] {
            let token = encode_token(key);
            assert!(!token.contains(['.', '*', '>', ' ']), "{key} -> {token}");
            assert_eq!(decode_token(&token).as_deref(), Some(key));
        }
    }

    #[test]
    fn kv_keys_use_only_allowed_characters() {
        let key = encode_kv_key("amazon-us:113-55 12=x~y");
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b)),
            "{key}"
        );
        assert_ne!(encode_kv_key("a=3D"), encode_kv_key("a="));
    }

    #[test]
    fn distinct_keys_get_distinct_tokens() {
        assert_ne!(encode_token("A.B"), encode_token("A~2EB"));
    }
}
