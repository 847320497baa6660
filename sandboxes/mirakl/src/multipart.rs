//! Reading the `file` part of a `multipart/form-data` body (STO01's upload). Pure function.

/// The content of the part named `name`, or why there is none.
pub fn part(content_type: &str, body: &[u8], name: &str) -> Result<Vec<u8>, String> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or("Content-Type must be multipart/form-data with a boundary")?;
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut rest = body;
    while let Some(at) = find(rest, delimiter) {
        rest = &rest[at + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let Some(headers_end) = find(rest, b"\r\n\r\n") else {
            break;
        };
        let headers = String::from_utf8_lossy(&rest[..headers_end]).to_ascii_lowercase();
        let content = &rest[headers_end + 4..];
        let end = find(content, delimiter).unwrap_or(content.len());
        let content = content[..end]
            .strip_suffix(b"\r\n")
            .unwrap_or(&content[..end]);
        if headers.contains(&format!("name=\"{name}\"")) {
            return Ok(content.to_vec());
        }
    }
    Err(format!("the multipart body has no part named {name:?}"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_file_part() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n1\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.csv\"\r\nContent-Type: text/csv\r\n\r\na;b\n1;2\n\r\n--XX--\r\n";
        let file = part("multipart/form-data; boundary=XX", body, "file").unwrap();
        assert_eq!(file, b"a;b\n1;2\n");
        assert!(part("multipart/form-data; boundary=XX", body, "nope").is_err());
    }
}
