//! Text: `faker` (names, e-mails, phones, addresses... from word lists, as the
//! reference's providers write them) and `pattern` (a format of literals, the row's
//! sequence number, random characters and other columns).

use super::super::eval::{Eval, texts};
use super::super::model::{ColumnType, Generator, PatternPart, Provider, Table};
use super::super::parse::{Gen, Parser};
use super::super::words;
use super::Strategy;
use crate::error::Result;
use crate::rng::RandomStream;
use arrow_array::{Array, ArrayRef, StringArray};

pub(super) const FAKER: Strategy = Strategy {
    name: "faker",
    keys: &["provider"],
    parse: |p, _, g| p.faker(g),
};

pub(super) const PATTERN: Strategy = Strategy {
    name: "pattern",
    keys: &["format"],
    parse: |p, at, g| p.pattern(at.table, at.column, g),
};

impl Parser<'_> {
    fn faker(&mut self, g: &Gen) -> Option<Generator> {
        let name = self.gen_text(g, "provider").unwrap_or("word");
        match Provider::parse(name) {
            Some(p) => Some(Generator::Faker(p)),
            None => {
                self.err(
                    format!("{}.provider", g.path),
                    format!(
                        "unknown provider '{name}'; providers: {}",
                        Provider::ALLOWED
                    ),
                );
                None
            }
        }
    }

    fn pattern(&mut self, ti: usize, ci: usize, g: &Gen) -> Option<Generator> {
        let format = self.required_text(g, "format")?;
        let at = format!("{}.format", g.path);
        let mut parts = Vec::new();
        let mut rest = format;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            let token = &rest[open + 1..close];
            let (name, width) = match token.split_once(':') {
                Some((n, w)) => (n, w.parse::<usize>().ok()),
                None => (token, Some(0)),
            };
            let valid_name =
                !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
            let Some(width) = width.filter(|_| valid_name) else {
                // Not a token: kept as text, as the reference does.
                parts.push(PatternPart::Literal(rest[..=open].to_string()));
                rest = &rest[open + 1..];
                continue;
            };
            if width > 64 {
                self.err(&at, format!("width {width} of '{{{token}}}' is above 64"));
                return None;
            }
            if open > 0 {
                parts.push(PatternPart::Literal(rest[..open].to_string()));
            }
            parts.push(match name {
                "seq" => PatternPart::Seq(width),
                "random" => PatternPart::Random(if width == 0 { 4 } else { width }),
                col => {
                    let c = self.col_ref(ti, col, &at)?;
                    if c == ci {
                        self.err(&at, format!("'{{{token}}}' refers to the column itself"));
                        return None;
                    }
                    PatternPart::Column(c, width)
                }
            });
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(PatternPart::Literal(rest.to_string()));
        }
        // Merge neighbouring literals.
        let mut merged: Vec<PatternPart> = Vec::new();
        for p in parts {
            match (merged.last_mut(), p) {
                (Some(PatternPart::Literal(a)), PatternPart::Literal(b)) => a.push_str(&b),
                (_, p) => merged.push(p),
            }
        }
        Some(Generator::Pattern(merged))
    }
}

/// The columns an e-mail is made from: the row's `first_name` and `last_name` (text
/// columns other than itself), when the table has them.
fn email_sources(t: &Table, c: usize) -> Option<(usize, usize)> {
    let usable = |i: usize| i != c && t.columns[i].ty == ColumnType::String;
    match (t.column_index("first_name"), t.column_index("last_name")) {
        (Some(f), Some(l)) if usable(f) && usable(l) => Some((f, l)),
        _ => None,
    }
}

/// Columns of the row provider `p` reads (an e-mail reads the row's names).
pub(super) fn faker_reads(t: &Table, c: usize, p: Provider, out: &mut Vec<usize>) {
    if p == Provider::Email {
        if let Some((f, l)) = email_sources(t, c) {
            out.extend([f, l]);
        }
    }
}

/// Columns a pattern writes.
pub(super) fn pattern_reads(parts: &[PatternPart], out: &mut Vec<usize>) {
    out.extend(parts.iter().filter_map(|p| match p {
        PatternPart::Column(c, _) => Some(*c),
        _ => None,
    }));
}

/// Row `i` of `a`, or `other()` where it is null (drawn only then).
fn row_or<'a>(a: &'a StringArray, i: usize, other: impl FnOnce() -> &'a str) -> &'a str {
    if a.is_valid(i) { a.value(i) } else { other() }
}

/// Word `k` of row `r` from `list`.
fn pick(s: RandomStream, list: &'static [&'static str], r: u64, k: u64) -> &'static str {
    list[s.below2(r, k, list.len() as u64) as usize]
}

impl Eval<'_> {
    pub(super) fn faker(&mut self, c: usize, p: Provider) -> Result<ArrayRef> {
        let s = self.stream(c);
        let pick = |list, r, k| pick(s, list, r, k);
        let copy = |list: &'static [&'static str], k: u64| {
            move |_: usize, r: u64, out: &mut String| out.push_str(pick(list, r, k))
        };
        Ok(match p {
            Provider::FirstName => self.rows.texts(copy(words::first_names(), 0)),
            Provider::LastName => self.rows.texts(copy(words::last_names(), 1)),
            Provider::Name => self.rows.texts(|_, r, out| {
                out.push_str(pick(words::first_names(), r, 0));
                out.push(' ');
                out.push_str(pick(words::last_names(), r, 1));
            }),
            Provider::Email => self.email(c)?,
            Provider::CompanyEmail => self.rows.texts(|_, r, out| {
                push_lower(out, pick(words::first_names(), r, 0), &[], usize::MAX);
                out.push('.');
                push_lower(out, pick(words::last_names(), r, 1), &[], usize::MAX);
                out.push('@');
                push_lower(out, pick(words::company_names(), r, 2), &[',', '.'], 20);
                out.push_str(".com");
            }),
            Provider::PhoneNumber => self.rows.texts(|_, r, out| {
                out.push('(');
                push_decimal(out, 200 + s.below2(r, 0, 799), 0);
                out.push_str(") ");
                push_decimal(out, 200 + s.below2(r, 1, 799), 0);
                out.push('-');
                push_decimal(out, 1000 + s.below2(r, 2, 9000), 0);
            }),
            Provider::Ssn => self.rows.texts(|_, r, out| {
                let area = match 1 + s.below2(r, 0, 899) {
                    666 => 665,
                    a => a,
                };
                push_decimal(out, area, 3);
                out.push('-');
                push_decimal(out, 1 + s.below2(r, 1, 99), 2);
                out.push('-');
                push_decimal(out, 1 + s.below2(r, 2, 9999), 4);
            }),
            Provider::Company => self.rows.texts(copy(words::company_names(), 0)),
            Provider::StreetAddress => self.rows.texts(|_, r, out| {
                push_decimal(out, 100 + s.below2(r, 0, 9900), 0);
                out.push(' ');
                out.push_str(pick(words::street_names(), r, 1));
                out.push(' ');
                out.push_str(pick(words::STREET_SUFFIXES, r, 2));
            }),
            Provider::Sentence => self.rows.texts(copy(words::sentences(), 0)),
            Provider::City => self.rows.texts(copy(words::US_CITIES, 0)),
            Provider::StateAbbr => self.rows.texts(copy(words::US_STATES, 0)),
            Provider::Uri => self.rows.texts(|_, r, out| {
                out.push_str("https://");
                out.push_str(pick(words::uri_domains(), r, 0));
                out.push('/');
                out.push_str(pick(words::uri_paths(), r, 1));
            }),
            Provider::RandomText => {
                const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
                self.rows.texts(|_, r, out| {
                    let f = s.fork(r);
                    out.extend((0..12).map(|j| CHARS[f.below(j, 36) as usize] as char));
                })
            }
        })
    }

    /// `first.last123@domain`, from the row's names where it has them.
    fn email(&mut self, c: usize) -> Result<ArrayRef> {
        let s = self.stream(c);
        let names = match email_sources(self.table(), c) {
            Some((f, l)) => Some((texts(&self.value(f)?)?, texts(&self.value(l)?)?)),
            None => None,
        };
        Ok(self.rows.texts(|i, r, out| {
            let (first, last) = match &names {
                Some((f, l)) => (
                    row_or(f, i, || pick(s, words::first_names(), r, 0)),
                    row_or(l, i, || pick(s, words::last_names(), r, 1)),
                ),
                None => (
                    pick(s, words::first_names(), r, 0),
                    pick(s, words::last_names(), r, 1),
                ),
            };
            push_lower(out, first, &[], usize::MAX);
            out.push('.');
            push_lower(out, last, &[], usize::MAX);
            push_decimal(out, 1 + s.below2(r, 2, 998), 0);
            out.push('@');
            out.push_str(pick(s, words::email_domains(), r, 3));
        }))
    }

    pub(super) fn pattern(&mut self, c: usize, parts: &[PatternPart]) -> Result<ArrayRef> {
        let mut sources: Vec<Option<StringArray>> = Vec::new();
        for part in parts {
            sources.push(match part {
                PatternPart::Column(src, _) => Some(texts(&self.value(*src)?)?),
                _ => None,
            });
        }
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let s = self.stream(c);
        Ok(self.rows.texts(|i, r, out| {
            for (k, part) in parts.iter().enumerate() {
                match part {
                    PatternPart::Literal(t) => out.push_str(t),
                    PatternPart::Seq(w) => push_decimal(out, r + 1, *w),
                    PatternPart::Random(n) => {
                        let f = s.fork(r);
                        for j in 0..*n {
                            out.push(CHARS[f.below(k as u64 * 64 + j as u64, 36) as usize] as char);
                        }
                    }
                    PatternPart::Column(_, w) => {
                        let src = sources[k].as_ref().expect("column part");
                        if src.is_valid(i) {
                            push_padded(out, src.value(i), *w);
                        }
                    }
                }
            }
        }))
    }
}

/// Appends `text` after as many zeros as bring it to `width` characters
/// (`{:0>width$}`).
fn push_padded(out: &mut String, text: &str, width: usize) {
    out.extend(std::iter::repeat_n(
        '0',
        width.saturating_sub(text.chars().count()),
    ));
    out.push_str(text);
}

/// Appends `value` in decimal, zero-padded to `width` digits (`{:0width$}`).
fn push_decimal(out: &mut String, value: u64, width: usize) {
    push_padded(out, itoa::Buffer::new().format(value), width);
}

/// Appends the low `width` hexadecimal digits of `value`, lowercase and zero-padded
/// (`{:0width$x}` of a value below `16^width`).
pub(super) fn push_hex(out: &mut String, value: u64, width: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend(
        (0..width)
            .rev()
            .map(|k| HEX[(value >> (4 * k)) as usize & 0xF] as char),
    );
}

/// Appends `x` lowercased, without its spaces (`x.to_lowercase().replace(' ', "")` for
/// any text without a final capital sigma), taking at most `limit` characters and
/// leaving out those in `skip`.
fn push_lower(out: &mut String, x: &str, skip: &[char], limit: usize) {
    let lowered = x.chars().flat_map(char::to_lowercase);
    for c in lowered
        .filter(|c| *c != ' ' && !skip.contains(c))
        .take(limit)
    {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_written_as_format_writes_them() {
        for (text, width) in [("7", 3), ("é1", 4), ("12345", 2), ("", 2)] {
            let mut out = String::new();
            push_padded(&mut out, text, width);
            assert_eq!(out, format!("{text:0>width$}"));
        }
        let s = RandomStream::new(3, "digits");
        for r in 0..10_000u64 {
            let value = s.bits(r) >> (r % 64);
            for width in [0usize, 1, 3, 6, 25] {
                let mut out = String::from("x");
                push_decimal(&mut out, value, width);
                assert_eq!(out, format!("x{value:0width$}"));
            }
            for width in [1u32, 4, 8, 12, 16] {
                let mut out = String::new();
                push_hex(&mut out, value, width);
                let low = if width == 16 {
                    value
                } else {
                    value & ((1 << (4 * width)) - 1)
                };
                assert_eq!(out, format!("{low:0w$x}", w = width as usize));
            }
        }
    }
}
