//! The words of nft's input language, each with its place (line and column, 1-based).
//!
//! nft's own scanner (src/scanner.l) knows every keyword; kpath needs less: words split at
//! blanks, with `{ } ; ,` always tokens of their own, `#` starting a comment outside
//! strings, and strings in double quotes. A newline ends a command or a rule, so it is a
//! token too. `:` and `.` are tokens only when they stand alone (`tcp . 80 : drop`), since
//! addresses and names hold them (`10.180.0.1:80`, `endpoint-...__10.180.0.1/80`).

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    Word(String),
    /// A double-quoted string, without its quotes.
    Str(String),
    /// One of `{ } ; ,`.
    Punct(char),
    Newline,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
    pub col: usize,
}

impl Token {
    pub fn word(&self) -> Option<&str> {
        match &self.tok {
            Tok::Word(w) => Some(w),
            _ => None,
        }
    }

    /// The token as it was written, for messages.
    pub fn text(&self) -> String {
        match &self.tok {
            Tok::Word(w) => w.clone(),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Punct(c) => c.to_string(),
            Tok::Newline => "end of line".into(),
        }
    }
}

/// Split `src` into tokens. Err: (line, column, message) of an unterminated string.
pub fn tokens(src: &str) -> Result<Vec<Token>, (usize, usize, String)> {
    let mut out = Vec::new();
    for (i, line) in src.lines().enumerate() {
        let line_no = i + 1;
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        let mut k = 0;
        while k < chars.len() {
            let (at, c) = chars[k];
            let col = line[..at].chars().count() + 1;
            match c {
                ' ' | '\t' | '\r' => k += 1,
                '#' => break,
                '"' => {
                    let start = k + 1;
                    let mut end = start;
                    while end < chars.len() && chars[end].1 != '"' {
                        end += 1;
                    }
                    if end >= chars.len() {
                        return Err((line_no, col, "this string has no closing `\"`".into()));
                    }
                    let s: String = chars[start..end].iter().map(|(_, c)| *c).collect();
                    out.push(Token {
                        tok: Tok::Str(s),
                        line: line_no,
                        col,
                    });
                    k = end + 1;
                }
                '{' | '}' | ';' | ',' => {
                    out.push(Token {
                        tok: Tok::Punct(c),
                        line: line_no,
                        col,
                    });
                    k += 1;
                }
                _ => {
                    let start = k;
                    while k < chars.len()
                        && !matches!(
                            chars[k].1,
                            ' ' | '\t' | '\r' | '{' | '}' | ';' | ',' | '"' | '#'
                        )
                    {
                        k += 1;
                    }
                    let w: String = chars[start..k].iter().map(|(_, c)| *c).collect();
                    out.push(Token {
                        tok: Tok::Word(w),
                        line: line_no,
                        col,
                    });
                }
            }
        }
        out.push(Token {
            tok: Tok::Newline,
            line: line_no,
            col: line.chars().count() + 1,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(src: &str) -> Vec<String> {
        tokens(src).unwrap().iter().map(Token::text).collect()
    }

    #[test]
    fn splits_punctuation_strings_and_comments() {
        assert_eq!(
            words("add set ip t s { type ipv4_addr ; comment \"a b\" ; } # note"),
            [
                "add",
                "set",
                "ip",
                "t",
                "s",
                "{",
                "type",
                "ipv4_addr",
                ";",
                "comment",
                "\"a b\"",
                ";",
                "}",
                "end of line"
            ]
        );
        assert_eq!(
            words("elements = { 1.2.3.4 . tcp . 80 : goto x-1/y__10.0.0.1/80, 5 }"),
            [
                "elements",
                "=",
                "{",
                "1.2.3.4",
                ".",
                "tcp",
                ".",
                "80",
                ":",
                "goto",
                "x-1/y__10.0.0.1/80",
                ",",
                "5",
                "}",
                "end of line"
            ]
        );
        assert_eq!(
            words("flags dynamic,timeout"),
            ["flags", "dynamic", ",", "timeout", "end of line"]
        );
    }

    #[test]
    fn an_unterminated_string_is_located() {
        assert_eq!(tokens("a\n  comment \"x").unwrap_err().0, 2);
        assert_eq!(tokens("a\n  comment \"x").unwrap_err().1, 11);
    }
}
