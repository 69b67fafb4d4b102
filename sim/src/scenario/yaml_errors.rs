//! serde-saphyr's messages, said in the user's words: what was expected in terms of the
//! scenario file (a list, a mapping, a port number), with a hint on the usual cause.

use crate::diag::did_you_mean;

/// The message and hint for a YAML or type error; `token` is the text at its location.
pub fn explain(msg: &str, token: &str) -> (String, Option<String>) {
    let owned = |s: &str| Some(s.to_string());
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        // "unknown field `servics`, expected one of name, description, ..."
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let known: Vec<&str> = expected
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ")
            .split(", ")
            .map(|k| k.trim_matches('`'))
            .filter(|k| !k.is_empty())
            .collect();
        let hint = match did_you_mean(field, known.iter().copied()) {
            Some(m) => format!("did you mean `{m}`? keys here: {}", known.join(", ")),
            None => format!(
                "keys here: {}; keys are camelCase as in Kubernetes (docs/scenario.md)",
                known.join(", ")
            ),
        };
        return (format!("unknown key `{field}`"), Some(hint));
    }
    if let Some(rest) = msg.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return (
            format!("`{key}` is given twice in this mapping"),
            owned("YAML would keep only one of them; remove the other"),
        );
    }
    if let Some(rest) = msg.strip_prefix("budget breached: ") {
        return (
            format!("the YAML is larger than kpath reads ({rest})"),
            owned(&format!(
                "kpath reads scenarios of up to {} MiB; split the cluster, or give fewer nodes and pods",
                super::MAX_SCENARIO_BYTES / (1024 * 1024)
            )),
        );
    }
    if msg.contains("unknown variant") {
        return (
            msg.to_string(),
            owned("the value must be one of the names listed"),
        );
    }
    let whole = |bits: &str, max: &str| {
        (
            format!("`{token}` is not a whole number from 0 to {max}"),
            Some(format!("this key takes a {bits}-bit unsigned number")),
        )
    };
    if let Some(field) = msg
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return (
            format!("the required key `{field}` is missing"),
            owned("docs/scenario.md shows an annotated example with every required key"),
        );
    }
    match msg {
        "invalid IPv4 address syntax" => {
            return (
                format!("`{token}` is not an IPv4 address"),
                owned("four numbers from 0 to 255, like 10.244.1.2"),
            );
        }
        "invalid u8" => return whole("8", "255"),
        "invalid u16" => return whole("16", "65535"),
        "invalid u32" => return whole("32", "4294967295"),
        "invalid u64" => return whole("64", "18446744073709551615"),
        "expected sequence start" => {
            return (
                "expected a list here".to_string(),
                owned("write one `- item` per line, or `[a, b]`"),
            );
        }
        "expected mapping start" => {
            return (
                "expected a mapping here".to_string(),
                owned("write `key: value` lines, or `{key: value}`"),
            );
        }
        "expected string scalar" => {
            return (
                "expected a single value here, not a list or a mapping".to_string(),
                owned("docs/scenario.md shows each key's type"),
            );
        }
        "unexpected end of input" => {
            return (
                "the scenario ends before it says anything".to_string(),
                owned("a scenario needs at least `cluster:` (docs/scenario.md has an example)"),
            );
        }
        _ => {}
    }
    let hint = if msg.starts_with("unexpected character") {
        owned("this does not look like YAML text: is it the right file?")
    } else if msg.contains("tab") {
        owned("YAML indents with spaces; replace the tab")
    } else if msg.contains("only valid inside a block") || msg.contains("did not find expected") {
        owned(
            "is a `[` or `{` above left open, or an item indented differently from its neighbours?",
        )
    } else if msg.contains("mapping values are not allowed") {
        owned(
            "check this line's indentation against the lines above it, and quote values that contain `: `",
        )
    } else if msg.contains("invalid type") {
        owned("the value has the wrong type for this key; docs/scenario.md shows each key's type")
    } else if msg.contains("missing field") {
        owned("docs/scenario.md shows an annotated example with every required key")
    } else if msg.starts_with("invalid i") {
        owned("this key takes a whole number")
    } else {
        None
    };
    (msg.to_string(), hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_get_the_nearest_known_one() {
        let (m, h) = explain(
            "unknown field `servics`, expected one of `name`, `services`, `pods`",
            "servics",
        );
        assert_eq!(m, "unknown key `servics`");
        assert!(h.unwrap().starts_with("did you mean `services`?"));
    }

    #[test]
    fn numbers_name_their_range() {
        let (m, _) = explain("invalid u16", "70000");
        assert_eq!(m, "`70000` is not a whole number from 0 to 65535");
    }
}
