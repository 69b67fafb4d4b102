//! Reading `ipset list` text: a `Name:`/`Type:`/header/`Members:` block per set.

use super::syntax::{
    NOMATCH_HINT, err_at, known_types, nomatch_at, parse_entry, set_type, unmodelled_option,
};
use super::{IpSet, SetType};
use crate::diag::{InputError, words};

/// The set an `ipset list` block is reading: what its header promised, to check against
/// what it lists.
struct Block {
    /// Index in the sets read so far (None until its `Type:` line).
    set: Option<usize>,
    name: String,
    name_line: usize,
    /// `Number of entries: N`, with its line and the column of N.
    entries: Option<(usize, usize, usize)>,
    /// Member lines read (duplicates included, as `ipset list` counts them).
    listed: usize,
    members_line: Option<usize>,
}

impl Block {
    /// The block ends (a new `Name:`, the end of the file): a member count different from
    /// the header's means the listing was cut (a paste that lost its tail, `ipset list -t`),
    /// and reading it as is would answer "not in the set" for the members it lost.
    fn finish(&self, file: &str, src: &str) -> Result<(), InputError> {
        if self.set.is_none() {
            return Err(err_at(
                file,
                src,
                self.name_line,
                1,
                "Name:",
                format!("set `{}` has no `Type:` line", self.name),
            )
            .with_hint("each `ipset list` block has `Name:` then `Type:` lines"));
        }
        let Some((n, line, col)) = self.entries else {
            return Ok(());
        };
        if n == self.listed {
            return Ok(());
        }
        let how = match self.members_line {
            Some(at) => format!(
                "{} member line(s) after `Members:` (line {at})",
                self.listed
            ),
            None => "no `Members:` list".to_string(),
        };
        Err(err_at(
            file,
            src,
            line,
            col,
            &n.to_string(),
            format!(
                "set `{}` has {n} entries by its header but {how}",
                self.name
            ),
        )
        .with_hint("the listing is cut short (or was made with `ipset list -t`); give the full `ipset list` or `ipset save` output"))
    }
}

/// Read `ipset list`: a block per set - `Name:`, `Type:`, header lines, then `Members:` and
/// one member per line until a blank line.
pub fn parse_ipset_list(file: &str, src: &str) -> Result<Vec<IpSet>, InputError> {
    let mut sets: Vec<IpSet> = Vec::new();
    let mut block: Option<Block> = None;
    let mut members = false;
    for (n, raw) in src.lines().enumerate() {
        let line = n + 1;
        let text = raw.trim();
        let col = raw.chars().count() - raw.trim_start().chars().count() + 1;
        let err = |msg: String| err_at(file, src, line, col, text, msg);
        // `#` lines are notes added to a paste (`parse_ipsets` skips them too when it
        // tells the two forms apart); no ipset line starts with `#`.
        if text.starts_with('#') {
            continue;
        }
        if text.is_empty() {
            members = false;
            continue;
        }
        // A paste that lost the blank line between blocks: `Name:` never starts a member,
        // so it ends the member list instead of being read as one.
        if members && !text.starts_with("Name:") {
            let Some(set) = block
                .as_ref()
                .and_then(|b| b.set)
                .and_then(|i| sets.get_mut(i))
            else {
                return Err(err("a member before any set".into()));
            };
            // `ipset list` may add options after the member (timeout, comment).
            let ws = words(raw);
            let Some(&(entry_col, entry)) = ws.first() else {
                continue;
            };
            let nomatch = nomatch_at(&ws[1..]);
            if let Some(i) = nomatch
                && !set.has_net()
            {
                let (c, w) = ws[1 + i];
                return Err(err_at(
                    file,
                    src,
                    line,
                    c,
                    w,
                    format!("`nomatch` on a {} set", set.kind.name()),
                )
                .with_hint(NOMATCH_HINT));
            }
            let elems = parse_entry(set.kind, entry, |off, part, m| {
                err_at(file, src, line, entry_col + off, part, m)
            })?;
            set.add_flagged(elems, nomatch.is_some());
            if let Some(b) = block.as_mut() {
                b.listed += 1;
            }
            continue;
        }
        members = false;
        let Some((key, value)) = text.split_once(':') else {
            return Err(
                err(format!("expected `Key: value`, found `{text}`")).with_hint(
                    "an `ipset list` block has Name:, Type:, Header:, ... and Members: lines",
                ),
            );
        };
        // Where the value starts, for pointing at it.
        let value_col = col
            + key.chars().count()
            + 1
            + (value.chars().count() - value.trim_start().chars().count());
        let value = value.trim();
        let err_value = |msg: String| err_at(file, src, line, value_col, value, msg);
        match key {
            "Name" => {
                if let Some(b) = block.take() {
                    b.finish(file, src)?;
                }
                // A set name is one word, as `ipset save`/`ipset restore` read it: an
                // empty or spaced name would print a `create` line that reads back as
                // another set (found by fuzzing: `Name:` with nothing after it).
                if value.is_empty() || value.contains(char::is_whitespace) {
                    let msg = if value.is_empty() {
                        "`Name:` names no set".to_string()
                    } else {
                        format!("`{value}` is not a set name: a set name is one word")
                    };
                    return Err(
                        err_value(msg).with_hint("write `Name: SET`, e.g. `Name: KUBE-CLUSTER-IP`")
                    );
                }
                if sets.iter().any(|s| s.name == value) {
                    return Err(err_value(format!("set `{value}` is listed twice")));
                }
                block = Some(Block {
                    set: None,
                    name: value.to_string(),
                    name_line: line,
                    entries: None,
                    listed: 0,
                    members_line: None,
                });
            }
            "Type" => {
                let Some(b) = block.as_mut().filter(|b| b.set.is_none()) else {
                    return Err(err("`Type:` before the set's `Name:`".into())
                        .with_hint("each `ipset list` block starts with `Name: SET`"));
                };
                let Some(kind) = set_type(value) else {
                    let known: Vec<&str> = SetType::ALL.iter().map(|(_, n)| *n).collect();
                    let hint = match crate::diag::did_you_mean(value, known) {
                        Some(m) => format!("did you mean `{m}`? {}", known_types()),
                        None => known_types(),
                    };
                    return Err(err_value(format!("unknown set type `{value}`")).with_hint(hint));
                };
                b.set = Some(sets.len());
                sets.push(IpSet::new(&b.name, kind, None));
            }
            "Header" => {
                let ws = words(value);
                if let Some((i, msg, hint)) = unmodelled_option(&ws) {
                    let (c, w) = ws[i];
                    return Err(err_at(file, src, line, value_col + c - 1, w, msg).with_hint(hint));
                }
            }
            "Number of entries" => {
                let Ok(count) = value.parse::<usize>() else {
                    return Err(err_value(format!("`{value}` is not a number of entries")));
                };
                if let Some(b) = block.as_mut() {
                    b.entries = Some((count, line, value_col));
                }
            }
            "Members" => {
                let Some(b) = block.as_mut().filter(|b| b.set.is_some()) else {
                    return Err(err("`Members:` of a set with no `Type:`".into()).with_hint(
                        "each `ipset list` block has `Name:` and `Type:` lines before `Members:`",
                    ));
                };
                b.members_line = Some(line);
                members = true;
            }
            "Revision" | "Size in memory" | "References" => {}
            other => {
                return Err(err(format!("unknown line `{other}:` in an `ipset list` block"))
                    .with_hint("known: Name, Type, Revision, Header, Size in memory, References, Number of entries, Members"));
            }
        }
    }
    if let Some(b) = block {
        b.finish(file, src)?;
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::super::tests::syn;
    use super::super::{IpSet, parse_ipsets};

    const LIST: &str = "Name: KUBE-CLUSTER-IP
Type: hash:ip,port
Revision: 6
Header: family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x4f8a9a1c
Size in memory: 408
References: 2
Number of entries: 2
Members:
10.96.0.10,udp:53
10.96.0.1,tcp:443

Name: KUBE-NODE-PORT-TCP
Type: bitmap:port
Revision: 3
Header: range 0-65535
Size in memory: 8268
References: 1
Number of entries: 1
Members:
30080
";

    #[test]
    fn ipset_list_reads_like_ipset_save() {
        let save = "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536
add KUBE-CLUSTER-IP 10.96.0.10,udp:53
add KUBE-CLUSTER-IP 10.96.0.1,tcp:443
create KUBE-NODE-PORT-TCP bitmap:port range 0-65535
add KUBE-NODE-PORT-TCP 30080
";
        let a = parse_ipsets("list", LIST).unwrap();
        let b = parse_ipsets("save", save).unwrap();
        assert_eq!(a.len(), 2);
        let show = |v: &[IpSet]| v.iter().map(IpSet::save).collect::<String>();
        assert_eq!(show(&a), show(&b));
        assert!(a[0].test(&syn("10.244.1.2", "10.96.0.1", 40000, 443), &[false, false]));
    }

    #[test]
    fn a_bad_ipset_list_is_located() {
        let bad = LIST.replace("10.96.0.1,tcp:443", "10.96.0.1,tcp:http");
        let e = parse_ipsets("sets.txt", &bad).unwrap_err();
        assert_eq!((e.line, e.column), (10, 11), "{e}");
        assert!(e.message.contains("tcp:http"), "{e}");
        let bad = LIST.replace("Type: bitmap:port", "Type: list:set");
        let e = parse_ipsets("sets.txt", &bad).unwrap_err();
        assert_eq!(e.line, 13, "{e}");
        assert!(e.hint.unwrap_or_default().contains("bitmap:port"));
        let bad = LIST.replace("References: 1", "Refs 1");
        let e = parse_ipsets("sets.txt", &bad).unwrap_err();
        assert!(e.message.contains("Key: value"), "{e}");
    }
}
