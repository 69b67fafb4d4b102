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
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut text = String::new();
        if chars[i] == '"' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(ctx
                            .err(start + 1, "unterminated quoted string")
                            .with_hint("close the string with `\"`"));
                    }
                    Some('\\') if i + 1 < chars.len() => {
                        text.push(chars[i + 1]);
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        text.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                text.push(chars[i]);
                i += 1;
            }
        }
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
            quoted: chars[start] == '"',
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
