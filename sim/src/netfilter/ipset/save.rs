//! Reading `ipset save` text: `create NAME TYPE [options]` and `add NAME ENTRY` lines.

use super::syntax::{
    NOMATCH_HINT, err_at, example, known_types, nomatch_at, parse_entry, set_type,
    unmodelled_option,
};
use super::{IpSet, SetType};
use crate::diag::{InputError, words};

/// Read `ipset save` (or `ipset list -o save`) text.
pub fn parse_ipset_save(file: &str, src: &str) -> Result<Vec<IpSet>, InputError> {
    let mut sets: Vec<IpSet> = Vec::new();
    for (n, raw) in src.lines().enumerate() {
        let line = n + 1;
        let text = raw.trim_end();
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            continue;
        }
        let err = |col: usize, word: &str, msg: String| err_at(file, src, line, col, word, msg);
        let ws = words(text);
        let Some(&(cmd_col, cmd)) = ws.first() else {
            continue;
        };
        if cmd != "create" && cmd != "add" {
            // A dump given to the wrong option is a likely mistake: say what it is.
            let looks = match cmd {
                "-A" | "-a" => " (this line looks like `ipvsadm-save` output)",
                c if c.starts_with('*') || c.starts_with(':') || c == "COMMIT" => {
                    " (this line looks like `iptables-save` output)"
                }
                _ => "",
            };
            return Err(err(cmd_col, cmd, format!("unknown command `{cmd}`")).with_hint(format!(
                "an `ipset save` dump has only `create` and `add` lines, `ipset list` Name:/Type:/Members: blocks{looks}"
            )));
        }
        let Some(&(name_col, name)) = ws.get(1) else {
            return Err(err(cmd_col, cmd, format!("`{cmd}` names no set")).with_hint(
                "write `create NAME TYPE [options]` or `add NAME ENTRY`, as `ipset save` prints them",
            ));
        };
        if cmd == "create" {
            let Some(&(ty_col, ty)) = ws.get(2) else {
                return Err(
                    err(name_col, name, format!("`create {name}` has no set type"))
                        .with_hint(format!("write `create {name} TYPE`; {}", known_types())),
                );
            };
            let Some(kind) = set_type(ty) else {
                let known: Vec<&str> = SetType::ALL.iter().map(|(_, n)| *n).collect();
                let hint = match crate::diag::did_you_mean(ty, known) {
                    Some(m) => format!("did you mean `{m}`? {}", known_types()),
                    None => known_types(),
                };
                return Err(err(ty_col, ty, format!("unknown set type `{ty}`")).with_hint(hint));
            };
            if let Some((i, msg, hint)) = unmodelled_option(&ws[3..]) {
                let (col, w) = ws[3 + i];
                return Err(err(col, w, msg).with_hint(hint));
            }
            if sets.iter().any(|s| s.name == name) {
                return Err(err(name_col, name, format!("set `{name}` is created twice"))
                    .with_hint("ipset refuses it: \"Set cannot be created: set with the same name already exists\""));
            }
            sets.push(IpSet::new(name, kind, None));
            continue;
        }
        let Some(set) = sets.iter_mut().find(|s| s.name == name) else {
            return Err(err(
                name_col,
                name,
                format!("`add` to set `{name}`, which no `create` line made"),
            )
            .with_hint("`ipset save` prints each set's create line before its entries"));
        };
        let Some(&(entry_col, entry)) = ws.get(2) else {
            return Err(
                err(name_col, name, format!("`add {name}` has no entry")).with_hint(format!(
                    "write `add {name} ENTRY`, e.g. {}",
                    example(set.kind)
                )),
            );
        };
        let nomatch = nomatch_at(&ws[3..]);
        if let Some(i) = nomatch
            && !set.has_net()
        {
            let (col, w) = ws[3 + i];
            return Err(
                err(col, w, format!("`nomatch` on a {} set", set.kind.name()))
                    .with_hint(NOMATCH_HINT),
            );
        }
        let elems = parse_entry(set.kind, entry, |off, part, m| {
            err(entry_col + off, part, m)
        })?;
        set.add_flagged(elems, nomatch.is_some());
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::super::tests::SAVE;
    use super::*;

    #[test]
    fn save_reads_back_and_bad_lines_say_where() {
        let sets = parse_ipset_save("sets", SAVE).unwrap();
        let text: String = sets.iter().map(IpSet::save).collect();
        assert_eq!(parse_ipset_save("again", &text).unwrap().len(), sets.len());
        let e = parse_ipset_save(
            "sets",
            "create S hash:ip,port family inet\nadd S 10.0.0.1,http\n",
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.message.contains("`http` is not a port")),
            (2, true),
            "{e}"
        );
        let e = parse_ipset_save("sets", "add T 10.0.0.1\n").unwrap_err();
        assert!(e.message.contains("no `create` line"), "{e}");
        let e = parse_ipset_save("sets", "create S list:set\n").unwrap_err();
        assert!(
            e.message.contains("unknown set type `list:set`") && e.column == 10,
            "{e}"
        );
    }
}
