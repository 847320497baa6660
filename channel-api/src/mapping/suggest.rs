//! "Did you mean ...?" for misspelt field, value map and function names.

/// The candidates close to `name`, closest first: the same name in another case or spelling convention
/// (`as_of` for `asOf`), or within a few edits of it.
pub fn close_matches<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    let wanted = normalize(name);
    // Short names get fewer edits, or every three-letter field would match every other one.
    let budget = (wanted.chars().count() / 3).clamp(1, 3);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|candidate| {
            let distance = edit_distance(&wanted, &normalize(candidate));
            (distance <= budget).then_some((distance, candidate))
        })
        .collect();
    scored.sort();
    scored.into_iter().map(|(_, c)| c).take(3).collect()
}

/// ` (did you mean `a` or `b`?)` or ` (known: a, b, c)` when nothing is close, for the end of a message.
pub fn hint<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str> + Clone) -> String {
    let close = close_matches(name, candidates.clone());
    if close.is_empty() {
        let all: Vec<&str> = candidates.into_iter().collect();
        if all.is_empty() {
            String::new()
        } else {
            format!(" (known: {})", all.join(", "))
        }
    } else {
        let quoted: Vec<String> = close.iter().map(|c| format!("`{c}`")).collect();
        format!(" (did you mean {}?)", quoted.join(" or "))
    }
}

/// Lower case without `_` and `-`, so that snake_case, kebab-case and camelCase spellings compare equal.
fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Levenshtein distance, on characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            let insertion = current[j] + 1;
            let deletion = previous[j + 1] + 1;
            current.push(substitution.min(insertion).min(deletion));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_conventions_and_typos_match() {
        let fields = ["available", "asOf", "sku", "locations", "correlationId"];
        assert_eq!(close_matches("as_of", fields), vec!["asOf"]);
        assert_eq!(close_matches("availabel", fields), vec!["available"]);
        assert_eq!(close_matches("quantity", fields), Vec::<&str>::new());
    }

    #[test]
    fn hints_list_everything_when_nothing_is_close() {
        assert_eq!(
            hint("amont", ["amount", "currency"]),
            " (did you mean `amount`?)"
        );
        assert_eq!(
            hint("x", ["amount", "currency"]),
            " (known: amount, currency)"
        );
    }
}
