//! A line diff of two texts (a draft against what is published), by longest common
//! subsequence: API definitions are a few hundred lines at most.

/// One line of a diff.
pub(crate) struct DiffLine {
    /// `' '` kept, `'-'` only in the old text, `'+'` only in the new.
    pub(crate) sign: char,
    pub(crate) text: String,
}

impl DiffLine {
    pub(crate) fn class(&self) -> &'static str {
        match self.sign {
            '-' => "del",
            '+' => "ins",
            _ => "same",
        }
    }
}

/// The lines of `old` and `new`, each marked kept, removed or added.
pub(crate) fn diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let line = |sign, text: &str| DiffLine {
        sign,
        text: text.to_string(),
    };
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(line(' ', a[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(line('-', a[i]));
            i += 1;
        } else {
            out.push(line('+', b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|t| line('-', t)));
    out.extend(b[j..].iter().map(|t| line('+', t)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_lines_are_a_removal_and_an_addition() {
        let d = diff("a\nb\nc", "a\nB\nc\nd");
        let signs: String = d.iter().map(|l| l.sign).collect();
        assert_eq!(signs, " -+ +");
        assert_eq!(d[2].text, "B");
        assert_eq!(d[4].class(), "ins");
    }
}
