//! The words of an iptables-save line, split as iptables-restore splits them (xshared.c
//! `add_param_to_argv`): whitespace separates, double quotes group (`--comment "a b"`), a
//! backslash escapes inside them, and no word is longer than 1023 bytes. [`Words`] walks
//! one rule's words, taking option values.

use super::Ctx;
use crate::diag::InputError;

/// A word of a line and the 1-based column it starts at.
#[derive(Clone, Debug)]
pub(super) struct Tok {
    pub(super) text: String,
    pub(super) col: usize,
    /// Written in double quotes: `"!"` is a value, `!` a negation.
    pub(super) quoted: bool,
}

/// The longest word iptables-restore takes: xshared.c `add_param` keeps each word in a
/// 1024-byte buffer and fails with "Parameter too long!" when it fills.
const MAX_WORD_BYTES: usize = 1023;

/// Split a line into words; double quotes group, backslash escapes inside them (the way
/// iptables-restore tokenizes).
pub(super) fn tokenize(ctx: &Ctx, line: &str) -> Result<Vec<Tok>, InputError> {
    let mut toks = Vec::new();
    let mut chars = line.char_indices().peekable();
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
            let mut text = String::new();
            loop {
                let Some((_, c)) = chars.next() else {
                    return Err(ctx
                        .err(start + 1, "unterminated quoted string")
                        .with_hint("close the string with `\"`"));
                };
                col += 1;
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some((_, escaped)) => {
                            col += 1;
                            text.push(escaped);
                        }
                        // A backslash that ends the line is itself, and the string is open.
                        None => text.push(c),
                    },
                    c => text.push(c),
                }
            }
            text
        } else {
            // An unquoted word is a slice of the line: one allocation, no per-char pushes.
            let mut to = line.len();
            while let Some(&(at, c)) = chars.peek() {
                if c.is_whitespace() {
                    to = at;
                    break;
                }
                chars.next();
                col += 1;
            }
            line[from..to].to_string()
        };
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
    }
    Ok(toks)
}

/// Walks the words of one rule.
pub(super) struct Words<'a> {
    pub(super) ctx: &'a Ctx<'a>,
    pub(super) toks: &'a [Tok],
    pub(super) i: usize,
}

impl<'a> Words<'a> {
    pub(super) fn next(&mut self) -> Option<&'a Tok> {
        let t = self.toks.get(self.i);
        self.i += 1;
        t
    }
    /// The value after option `opt`.
    pub(super) fn value(&mut self, opt: &Tok) -> Result<&'a Tok, InputError> {
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
