//! `multipart/form-data` bodies (feed and stock file uploads): the parts with their names. Pure.

/// One part of a multipart body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub content: Vec<u8>,
}

/// The parts of `body`, whose boundary is named in `content_type`, or why it cannot be read.
pub fn parts(content_type: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            format!("Content-Type {content_type:?} is not multipart/form-data with a boundary")
        })?;
    let delimiter = format!("--{boundary}");
    let closing = format!("\r\n{delimiter}");
    let mut at = find(body, delimiter.as_bytes(), 0).ok_or("no multipart boundary in the body")?;
    let mut parts = Vec::new();
    loop {
        let start = at + delimiter.len();
        if body.get(start..start + 2) == Some(b"--") {
            return Ok(parts);
        }
        let headers_end =
            find(body, b"\r\n\r\n", start).ok_or("a multipart part without headers")?;
        let next = find(body, closing.as_bytes(), headers_end)
            .ok_or("a multipart part without its closing boundary")?;
        let headers = String::from_utf8_lossy(&body[start..headers_end]);
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            content: body[headers_end + 4..next].to_vec(),
        };
        for line in headers.split("\r\n") {
            let Some((header, value)) = line.split_once(':') else {
                continue;
            };
            match header.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    part.name = attribute(value, "name").unwrap_or_default();
                    part.filename = attribute(value, "filename");
                }
                "content-type" => part.content_type = Some(value.trim().to_string()),
                _ => {}
            }
        }
        parts.push(part);
        at = next + 2;
    }
}

/// The content of the part named `name`, or why there is none.
pub fn part(content_type: &str, body: &[u8], name: &str) -> Result<Vec<u8>, String> {
    parts(content_type, body)?
        .into_iter()
        .find(|p| p.name == name)
        .map(|p| p.content)
        .ok_or_else(|| format!("the multipart body has no part named {name:?}"))
}

/// `name="value"` of a Content-Disposition header.
fn attribute(header: &str, name: &str) -> Option<String> {
    header.split(';').map(str::trim).find_map(|p| {
        let (key, value) = p.split_once('=')?;
        (key.trim().eq_ignore_ascii_case(name)).then(|| value.trim().trim_matches('"').to_string())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_part_with_its_name() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n1\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.csv\"\r\nContent-Type: text/csv\r\n\r\na;b\n1;2\n\r\n--XX--\r\n";
        let all = parts("multipart/form-data; boundary=XX", body).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].filename.as_deref(), Some("s.csv"));
        assert_eq!(all[1].content_type.as_deref(), Some("text/csv"));
        let file = part("multipart/form-data; boundary=XX", body, "file").unwrap();
        assert_eq!(file, b"a;b\n1;2\n");
        assert!(part("multipart/form-data; boundary=XX", body, "nope").is_err());
        assert!(parts("application/json", body).is_err());
    }
}
