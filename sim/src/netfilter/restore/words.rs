//! The words of an iptables-save line, split as iptables-restore splits them (xshared.c
//! `add_param_to_argv`): whitespace separates, double quotes group (`--comment "a b"`), a
//! backslash escapes inside them, and no word is longer than 1023 bytes. [`Words`] walks
//! one rule's words, taking option values.

use super::Ctx;
use crate::diag::InputError;
use std::borrow::Cow;

/// A word of a line and the 1-based column it starts at.
#[derive(Clone, Debug)]
pub(super) struct Tok<'a> {
    /// Borrowed from the line unless quoting changed it.
    pub(super) text: Cow<'a, str>,
    pub(super) col: usize,
    /// Written in double quotes: `"!"` is a value, `!` a negation.
    pub(super) quoted: bool,
}

/// The longest word iptables-restore takes: xshared.c `add_param` keeps each word in a
/// 1024-byte buffer and fails with "Parameter too long!" when it fills.
const MAX_WORD_BYTES: usize = 1023;

/// Split a line into words; double quotes group, backslash escapes inside them (the way
/// iptables-restore tokenizes).
pub(super) fn tokenize<'a>(ctx: &Ctx, line: &'a str) -> Result<Vec<Tok<'a>>, InputError> {
    // Dumps are ASCII nearly always: their bytes are their chars, with no UTF-8 decoding.
    if line.is_ascii() {
        if !line.contains('\\') {
            return split_plain(ctx, line);
        }
        split(ctx, line, line.bytes().map(char::from).enumerate())
    } else {
        split(ctx, line, line.char_indices())
    }
}

/// [`split`] for an ASCII line without backslashes (nearly every line of a dump): every
/// word, quoted or not, is a slice of the line, and a byte's offset is its column.
fn split_plain<'a>(ctx: &Ctx, line: &'a str) -> Result<Vec<Tok<'a>>, InputError> {
    // `char::is_whitespace` on ASCII: tab, line feed, vertical tab, form feed, CR, space.
    let space = |c: u8| matches!(c, b'\t'..=b'\r' | b' ');
    let b = line.as_bytes();
    let mut toks = Vec::with_capacity(32);
    let mut i = 0;
    while i < b.len() {
        if space(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let quoted = b[i] == b'"';
        let text = if quoted {
            let Some(len) = b[i + 1..].iter().position(|&c| c == b'"') else {
                return Err(ctx
                    .err(start + 1, "unterminated quoted string")
                    .with_hint("close the string with `\"`"));
            };
            i += 1 + len + 1;
            &line[start + 1..start + 1 + len]
        } else {
            while i < b.len() && !space(b[i]) {
                i += 1;
            }
            &line[start..i]
        };
        push_word(ctx, &mut toks, Cow::Borrowed(text), start, quoted)?;
    }
    Ok(toks)
}

/// Add a word that starts at 0-based column `start`, refusing one longer than
/// iptables-restore takes.
fn push_word<'a>(
    ctx: &Ctx,
    toks: &mut Vec<Tok<'a>>,
    text: Cow<'a, str>,
    start: usize,
    quoted: bool,
) -> Result<(), InputError> {
    if text.len() > MAX_WORD_BYTES {
        return Err(ctx
            .err(
                start + 1,
                format!(
                    "a word of {} bytes; iptables-restore takes at most {MAX_WORD_BYTES} (\"Parameter too long!\")",
                    text.len()
                ),
            )
            .with_hint("iptables-save never writes such a word: is the dump cut or two lines run together?"));
    }
    toks.push(Tok {
        text,
        col: start + 1,
        quoted,
    });
    Ok(())
}

/// The words of `line`, from its chars with their byte offsets.
fn split<'a>(
    ctx: &Ctx,
    line: &'a str,
    chars: impl Iterator<Item = (usize, char)>,
) -> Result<Vec<Tok<'a>>, InputError> {
    let mut toks = Vec::with_capacity(32);
    let mut chars = chars.peekable();
    // Columns count characters, not bytes; `col` is the 0-based column of the next one.
    let mut col = 0;
    while let Some(&(from, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            col += 1;
            continue;
        }
        let start = col;
        let quoted = c == '"';
        let text = if quoted {
            chars.next();
            col += 1;
            // Borrowed from the line between the quotes, unless a backslash escapes a char:
            // then the unescaped text is built.
            let mut owned: Option<String> = None;
            let close = loop {
                let Some((at, c)) = chars.next() else {
                    return Err(ctx
                        .err(start + 1, "unterminated quoted string")
                        .with_hint("close the string with `\"`"));
                };
                col += 1;
                match c {
                    '"' => break at,
                    '\\' => {
                        let text = owned.get_or_insert_with(|| line[from + 1..at].to_string());
                        match chars.next() {
                            Some((_, escaped)) => {
                                col += 1;
                                text.push(escaped);
                            }
                            // A backslash that ends the line is itself, and the string is open.
                            None => text.push(c),
                        }
                    }
                    c => {
                        if let Some(text) = owned.as_mut() {
                            text.push(c);
                        }
                    }
                }
            };
            match owned {
                Some(text) => Cow::Owned(text),
                None => Cow::Borrowed(&line[from + 1..close]),
            }
        } else {
            // An unquoted word is a slice of the line: nothing is copied.
            let mut to = line.len();
            while let Some(&(at, c)) = chars.peek() {
                if c.is_whitespace() {
                    to = at;
                    break;
                }
                chars.next();
                col += 1;
            }
            Cow::Borrowed(&line[from..to])
        };
        push_word(ctx, &mut toks, text, start, quoted)?;
    }
    Ok(toks)
}

/// Walks the words of one rule.
pub(super) struct Words<'a> {
    pub(super) ctx: &'a Ctx<'a>,
    pub(super) toks: &'a [Tok<'a>],
    pub(super) i: usize,
}

impl<'a> Words<'a> {
    pub(super) fn next(&mut self) -> Option<&'a Tok<'a>> {
        let t = self.toks.get(self.i);
        self.i += 1;
        t
    }
    /// The value after option `opt`.
    pub(super) fn value(&mut self, opt: &Tok) -> Result<&'a Tok<'a>, InputError> {
        let v = self.next().ok_or_else(|| {
            self.ctx
                .err(opt.col, format!("`{}` needs a value", opt.text))
                .with_hint(format!(
                    "the value goes right after `{}`; is the line cut short?",
                    opt.text
                ))
        })?;
        // `-s ! 10.0.0.1`: the old intrapositioned negation, which iptables no longer reads
        // for IPv4 (xshared.c check_inverse only allows it for arptables/ebtables).
        if v.text == "!" && !v.quoted {
            return Err(self
                .ctx
                .err(
                    v.col,
                    format!(
                        "`!` after `{}`: the negation goes before the option",
                        opt.text
                    ),
                )
                .with_hint(format!("write `! {} VALUE`", opt.text)));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<(String, usize, bool)> {
        let ctx = Ctx {
            file: "t",
            src: line,
            line: 1,
        };
        tokenize(&ctx, line)
            .unwrap()
            .into_iter()
            .map(|t| (t.text.into_owned(), t.col, t.quoted))
            .collect()
    }

    /// The words of `line` as the general splitter reads them (every char decoded).
    fn words_general(line: &str) -> Result<Vec<(String, usize, bool)>, String> {
        let ctx = Ctx {
            file: "t",
            src: line,
            line: 1,
        };
        split(&ctx, line, line.char_indices())
            .map(|toks| {
                toks.into_iter()
                    .map(|t| (t.text.into_owned(), t.col, t.quoted))
                    .collect()
            })
            .map_err(|e| format!("{}:{} {}", e.column, e.width, e.message))
    }

    #[test]
    fn plain_lines_split_as_the_general_splitter_splits_them() {
        let lines = [
            r#"-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU"#,
            "  -A\tX\x0b-j   ACCEPT \r",
            r#"-A X -m comment --comment "" -j ACCEPT"#,
            r#"-A X -m comment --comment "a"b"c" -j ACCEPT"#,
            r#"-A X a"b c" -j"#,
            r#"-A X -m comment --comment "never closed"#,
            &format!("-A X --comment \"{}\"", "w".repeat(1024)),
            &format!("-A X {}", "w".repeat(1024)),
            "",
            "   ",
        ];
        for line in lines {
            let ctx = Ctx {
                file: "t",
                src: line,
                line: 1,
            };
            let plain = split_plain(&ctx, line)
                .map(|toks| {
                    toks.into_iter()
                        .map(|t| (t.text.into_owned(), t.col, t.quoted))
                        .collect::<Vec<_>>()
                })
                .map_err(|e| format!("{}:{} {}", e.column, e.width, e.message));
            assert_eq!(plain, words_general(line), "{line}");
        }
    }

    #[test]
    fn columns_count_chars_on_ascii_and_non_ascii_lines_alike() {
        let ascii = words(r#"-A X -m comment --comment "a \"b\" c" -j ACCEPT"#);
        assert_eq!(ascii[4], ("--comment".into(), 17, false));
        assert_eq!(ascii[5], (r#"a "b" c"#.into(), 27, true));
        assert_eq!(ascii[6], ("-j".into(), 39, false));
        // The same line with a two-byte char in the comment: the columns after it are
        // the same, since columns count chars.
        let utf8 = words(r#"-A X -m comment --comment "é \"b\" c" -j ACCEPT"#);
        assert_eq!(utf8[5], (r#"é "b" c"#.into(), 27, true));
        assert_eq!(utf8[6], ("-j".into(), 39, false));
    }
}
