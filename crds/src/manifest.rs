//! Reading manifests: YAML files holding one or more documents, each remembered with the file and line it
//! starts on so that every error can point at it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where a document starts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Source {
    pub file: String,
    /// 1-based line of the document's first line.
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One YAML document, as JSON.
#[derive(Clone, Debug)]
pub struct Document {
    pub source: Source,
    pub value: Value,
}

impl Document {
    pub fn api_version(&self) -> &str {
        self.value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `Kind/name`, for messages.
    pub fn display_name(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }
}

/// A file that could not be read or parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub source: Source,
    pub message: String,
}

/// Splits `text` into YAML documents, remembering the line each starts on. Empty documents (comments only) are
/// skipped. A document that is not valid YAML is an error; the other documents are still returned.
pub fn parse_documents(file: &str, text: &str) -> (Vec<Document>, Vec<LoadError>) {
    let mut documents = Vec::new();
    let mut errors = Vec::new();
    for (line, chunk) in split_documents(text) {
        let source = Source {
            file: file.to_string(),
            line,
        };
        match serde_yaml_ng::from_str::<Option<Value>>(&chunk) {
            Ok(Some(Value::Null)) | Ok(None) => {}
            Ok(Some(value @ Value::Object(_))) => documents.push(Document { source, value }),
            Ok(Some(_)) => errors.push(LoadError {
                source,
                message: "document is not a mapping".into(),
            }),
            Err(e) => {
                let source = match e.location() {
                    Some(at) => Source {
                        file: file.to_string(),
                        line: line + at.line().saturating_sub(1),
                    },
                    None => source,
                };
                errors.push(LoadError {
                    source,
                    message: format!("invalid YAML: {e}"),
                });
            }
        }
    }
    (documents, errors)
}

/// Yields (first line, text) for each `---`-separated document.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut start = 1;
    let mut current = String::new();
    for (index, line) in text.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") {
            out.push((start, std::mem::take(&mut current)));
            start = index + 2;
            continue;
        }
        // Keep line numbers aligned: blank and comment lines before the content still count.
        current.push_str(line);
        current.push('\n');
    }
    out.push((start, current));
    out
}

/// Reads every `.yaml` and `.yml` file in `paths` (folders recursively, in name order).
pub fn load_paths(paths: &[PathBuf]) -> (Vec<Document>, Vec<LoadError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        collect_files(path, &mut files, &mut errors);
    }
    let mut documents = Vec::new();
    for file in files {
        let name = file.display().to_string();
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let (docs, errs) = parse_documents(&name, &text);
                documents.extend(docs);
                errors.extend(errs);
            }
            Err(e) => errors.push(LoadError {
                source: Source {
                    file: name,
                    line: 1,
                },
                message: e.to_string(),
            }),
        }
    }
    (documents, errors)
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    if path.is_dir() {
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) => {
                let source = Source {
                    file: path.display().to_string(),
                    line: 1,
                };
                errors.push(LoadError {
                    source,
                    message: e.to_string(),
                });
                return;
            }
        };
        let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        for child in children {
            if child.is_dir() || is_yaml(&child) {
                collect_files(&child, files, errors);
            }
        }
    } else if path.exists() {
        files.push(path.to_path_buf());
    } else {
        let source = Source {
            file: path.display().to_string(),
            line: 1,
        };
        errors.push(LoadError {
            source,
            message: "no such file or folder".into(),
        });
    }
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_first_line() {
        let text = "# header\na: 1\n---\nb: 2\n---\n# only a comment\n---\nc: 3\n";
        let (docs, errors) = parse_documents("f.yaml", text);
        assert!(errors.is_empty(), "{errors:?}");
        let lines: Vec<usize> = docs.iter().map(|d| d.source.line).collect();
        assert_eq!(lines, vec![1, 4, 8]);
    }

    #[test]
    fn a_broken_document_does_not_hide_the_others() {
        let (docs, errors) = parse_documents("f.yaml", "a: [1\n---\nb: 2\n");
        assert_eq!(docs.len(), 1);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message.contains("invalid YAML"),
            "{}",
            errors[0].message
        );
    }
}
