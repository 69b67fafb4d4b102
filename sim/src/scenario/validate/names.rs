//! DNS-1123 labels and subdomains: the names Kubernetes accepts for nodes, pods and namespaces.

/// A DNS-1123 label (RFC 1123, as Kubernetes checks it): lowercase letters, digits and
/// '-', starting and ending with a letter or digit. The length is checked by the caller.
fn is_dns_label(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.chars().all(|c| ok(c) || c == '-')
        && s.chars().next().is_some_and(ok)
        && s.chars().last().is_some_and(ok)
}

/// A DNS-1123 subdomain: dot-separated DNS-1123 labels.
pub(super) fn is_dns_subdomain(s: &str) -> bool {
    s.split('.').all(is_dns_label)
}

pub(super) const LABEL_RULE: &str = "a DNS-1123 label, as Kubernetes requires: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";
pub(super) const SUBDOMAIN_RULE: &str = "a DNS-1123 subdomain, as Kubernetes requires: lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit, at most 253 characters";

/// The problem with `name` as a DNS-1123 label, if any.
pub(super) fn label_problem(what: &str, name: &str) -> Option<String> {
    if name.chars().count() > 63 {
        Some(format!(
            "{what} `{}` is longer than 63 characters ({})",
            shorten(name),
            name.chars().count()
        ))
    } else if !is_dns_label(name) {
        Some(format!("{what} `{name}` is not a DNS-1123 label"))
    } else {
        None
    }
}

/// A long name cut for a message.
pub(super) fn shorten(name: &str) -> String {
    if name.chars().count() <= 70 {
        name.to_string()
    } else {
        format!("{}...", name.chars().take(60).collect::<String>())
    }
}
