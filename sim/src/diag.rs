//! Errors in input files (scenarios, iptables-save dumps), rendered for people:
//! file:line:column, the line itself with the offending text underlined, and a hint.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    /// 1-based; 0 when the error has no place in the file (it could not be read).
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The text of `line`, for the snippet.
    pub source_line: String,
    /// How many characters to underline from `column`.
    pub width: usize,
    pub hint: Option<String>,
}

impl InputError {
    /// An error at a place in `src`; the underline covers the token starting there.
    pub fn at(
        file: &str,
        src: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        let source_line = src
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .to_string();
        let rest: String = source_line.chars().skip(column.saturating_sub(1)).collect();
        let token = rest.split(" #").next().unwrap_or("").trim_end();
        InputError {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
            width: token.chars().count().max(1),
            source_line,
            hint: None,
        }
    }

    /// An error about the file as a whole (unreadable, too large).
    pub fn whole_file(file: &str, message: impl Into<String>) -> Self {
        InputError {
            file: file.to_string(),
            line: 0,
            column: 0,
            message: message.into(),
            source_line: String::new(),
            width: 0,
            hint: None,
        }
    }

    /// The same rendering, headed `warning:` - for input that loads but looks unintended.
    pub fn as_warning(&self) -> String {
        let text = self.to_string();
        match text.strip_prefix("error:") {
            Some(rest) => format!("warning:{rest}"),
            None => text,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Several files read as one text, one after another (a scenario and the manifests
/// applied to it): an error placed in the whole text is moved to the file and line it
/// came from. Each part is (file, the whole text's line its first line is).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    parts: Vec<(String, usize)>,
}

impl Sources {
    pub fn push(&mut self, file: &str, first_line: usize) {
        self.parts.push((file.to_string(), first_line));
    }

    pub fn place(&self, mut e: InputError) -> InputError {
        if e.line == 0 {
            return e;
        }
        if let Some((file, first)) = self.parts.iter().rev().find(|(_, f)| *f <= e.line) {
            e.file.clone_from(file);
            e.line = e.line - first + 1;
        }
        e
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        if self.line == 0 {
            write!(f, "  --> {}", self.file)?;
        } else {
            let n = self.line.to_string();
            let pad = " ".repeat(n.len());
            writeln!(f, "{pad}--> {}:{}:{}", self.file, self.line, self.column)?;
            writeln!(f, "{pad} |")?;
            let (shown, at, width) = snippet(&self.source_line, self.column, self.width);
            writeln!(f, "{n} | {shown}")?;
            write!(f, "{pad} | {}{}", " ".repeat(at), "^".repeat(width))?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  = hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

/// The words of a line, each with the 1-based column (in characters) it starts at.
pub fn words(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    for (n, (i, c)) in line.char_indices().enumerate() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some((i, n + 1)),
            (true, Some((s, col))) => {
                out.push((col, &line[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some((s, col)) = start {
        out.push((col, &line[s..]));
    }
    out
}

/// The widest line an error shows: a minified or pasted line of megabytes is cut to a
/// window around the column, marked with `...`.
const SNIPPET_MAX: usize = 100;

/// The part of `line` to show, where the underline starts in it and how wide it is.
fn snippet(line: &str, column: usize, width: usize) -> (String, usize, usize) {
    let chars: Vec<char> = line.chars().collect();
    let col = column.saturating_sub(1).min(chars.len());
    if chars.len() <= SNIPPET_MAX {
        return (line.to_string(), col, width);
    }
    let start = col.saturating_sub(SNIPPET_MAX / 3);
    let end = (start + SNIPPET_MAX).min(chars.len());
    let head = if start > 0 { "..." } else { "" };
    let tail = if end < chars.len() { "..." } else { "" };
    let shown: String = chars[start..end].iter().collect();
    let at = head.len() + (col - start);
    let width = width.min(end.saturating_sub(col)).max(1);
    (format!("{head}{shown}{tail}"), at, width)
}

#[cfg(test)]
mod snippet_tests {
    use super::*;

    #[test]
    fn a_long_line_is_shown_as_a_window_around_the_column() {
        let line = format!("{}BAD{}", "x".repeat(5000), "y".repeat(5000));
        let e = InputError::at("f", &line, 1, 5001, "bad");
        let text = e.to_string();
        let shown = text.lines().nth(3).unwrap();
        assert!(shown.len() < SNIPPET_MAX + 20, "{shown}");
        assert!(shown.contains("...xxx") && shown.contains("BADyyy") && shown.ends_with("..."));
        // The caret still points at BAD.
        let caret = text.lines().nth(4).unwrap();
        let at = caret.find('^').unwrap();
        assert_eq!(&shown[at..at + 3], "BAD");
        assert!(
            caret.len() - at < SNIPPET_MAX,
            "the underline is clipped too"
        );
    }
}

/// Words longer than this get no suggestion: a typo'd name is short, and the distance
/// costs time proportional to the product of the lengths.
const SUGGEST_MAX_LEN: usize = 64;

/// The known name closest to `word` (Levenshtein distance at most a third of its length),
/// for "did you mean". Candidates whose length alone puts them out of reach are skipped, so
/// the work stays small whatever the input holds.
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w: Vec<char> = word.chars().collect();
    if w.len() > SUGGEST_MAX_LEN {
        return None;
    }
    let max = w.len().max(3) / 3;
    known
        .into_iter()
        .filter(|k| {
            // A char is 1 to 4 bytes: rule out long candidates before counting them.
            k.len() <= 4 * (w.len() + max) && k.chars().count().abs_diff(w.len()) <= max
        })
        .map(|k| (distance(&w, k), k))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions, so
/// `pign` is one edit from `ping`. Rolling rows: the previous two (a transposition looks
/// two rows back) and the current one.
fn distance(a: &[char], b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(before[j - 2] + 1);
            }
            cur[j] = v;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_snippet_and_hint() {
        let src = "a: 1\npods:\n  - node: nod-1 # typo\n";
        let e = InputError::at("s.yaml", src, 3, 11, "unknown node `nod-1`")
            .with_hint("did you mean `node-1`?");
        let text = e.to_string();
        assert!(text.contains("--> s.yaml:3:11"), "{text}");
        assert!(text.contains("3 |   - node: nod-1 # typo"), "{text}");
        assert!(text.contains("  |           ^^^^^\n"), "{text}");
        assert!(text.ends_with("= hint: did you mean `node-1`?"), "{text}");
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("nod-1", ["node-1", "node-2"]), Some("node-1"));
        assert_eq!(did_you_mean("zzzzzz", ["node-1"]), None);
        assert_eq!(did_you_mean("pign", ["ping", "syn"]), Some("ping"));
        assert_eq!(did_you_mean("clinet", ["client", "server"]), Some("client"));
        assert_eq!(did_you_mean("ab", ["abc"]), Some("abc"));
        assert_eq!(
            did_you_mean("node-10", ["node-1", "node-100"]),
            Some("node-1")
        );
        assert_eq!(distance(&['k', 'i', 't', 't', 'e', 'n'], "sitting"), 3);
        assert_eq!(distance(&[], "abc"), 3);
    }

    #[test]
    fn huge_names_get_no_suggestion_and_cost_nothing() {
        // A full distance matrix for two 60k-character names would be 3.6e9 cells.
        let huge = "n".repeat(60_000);
        let huge2 = format!("{}x", "n".repeat(59_999));
        let start = std::time::Instant::now();
        assert_eq!(did_you_mean(&huge, [huge2.as_str(), "node-1"]), None);
        assert_eq!(
            did_you_mean("node-1", [huge.as_str(), "node-2"]),
            Some("node-2")
        );
        let word = "n".repeat(SUGGEST_MAX_LEN);
        assert_eq!(did_you_mean(&word, [huge.as_str()]), None);
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }
}
