//! Feed and report documents as Amazon serves them: plain, or compressed as the document's
//! `compressionAlgorithm` says (Reports and Feeds 2021-06-30 name `GZIP` as the only algorithm). Pure.

use std::io::Read as _;

/// The document's bytes, decompressed when `compression` names an algorithm; the error names it when this
/// build cannot read it, or what is wrong with the data.
pub fn decompress(compression: Option<&str>, bytes: &[u8]) -> Result<Vec<u8>, String> {
    match compression {
        None => Ok(bytes.to_vec()),
        Some("GZIP") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut out)
                .map_err(|e| format!("the GZIP document cannot be decompressed: {e}"))?;
            Ok(out)
        }
        Some(other) => Err(format!(
            "compressionAlgorithm {other:?} is not one this build reads (GZIP)"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write as _;

    use super::*;

    #[test]
    fn gzip_documents_are_read_and_other_algorithms_named() {
        let text = "settlement-id\ttotal-amount\n1234\t12.50\n";
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        let gzipped = encoder.finish().unwrap();
        assert_eq!(decompress(Some("GZIP"), &gzipped).unwrap(), text.as_bytes());
        assert_eq!(decompress(None, text.as_bytes()).unwrap(), text.as_bytes());
        let error = decompress(Some("ZSTD"), &gzipped).unwrap_err();
        assert!(error.contains("\"ZSTD\""), "{error}");
        let error = decompress(Some("GZIP"), b"not gzip").unwrap_err();
        assert!(error.contains("cannot be decompressed"), "{error}");
    }
}
