//! Identifiers: `sequence` (start + row x step) and `uuid` (version 4, from the row's
//! random bits).

use super::super::eval::Eval;
use super::super::model::Generator;
use super::super::parse::{Gen, Parser, kind};
use super::text::push_hex;
use super::{Planning, Prep, Strategy};
use crate::error::{Error, Result};
use arrow_array::{ArrayRef, Int64Array};
use std::sync::Arc;

pub(super) const SEQUENCE: Strategy = Strategy {
    name: "sequence",
    keys: &["start", "step"],
    parse: |p, _, g| p.sequence(g),
};

pub(super) const UUID: Strategy = Strategy {
    name: "uuid",
    keys: &[],
    parse: |_, _, _| Some(Generator::Uuid),
};

impl Parser<'_> {
    fn sequence(&mut self, g: &Gen) -> Option<Generator> {
        let int = |p: &mut Self, key: &str, default: i64| -> Option<i64> {
            match g.get(key) {
                None => Some(default),
                Some((v, at)) => v.as_i64().or_else(|| {
                    p.err(at, format!("must be a whole number, not {}", kind(v)));
                    None
                }),
            }
        };
        let start = int(self, "start", 1)?;
        let step = int(self, "step", 1)?;
        if step == 0 {
            self.err(format!("{}.step", g.path), "must not be 0");
            return None;
        }
        Some(Generator::Sequence { start, step })
    }
}

/// A sequence whose last row stays in the 64-bit range.
pub(super) fn check_sequence(at: &Planning, start: i64, step: i64) -> Result<Prep> {
    let n = at.rows();
    let last = i128::from(start) + i128::from(step) * i128::from(n.saturating_sub(1));
    if i64::try_from(last).is_err() {
        return Err(Error::Schema(format!(
            "{}.generator: {} rows run the sequence past the 64-bit range",
            at.path,
            crate::report::thousands(n)
        )));
    }
    Ok(Prep::default())
}

impl Eval<'_> {
    pub(super) fn sequence(&self, start: i64, step: i64) -> ArrayRef {
        Arc::new(Int64Array::from(
            self.rows
                .map(|r| start.wrapping_add(step.wrapping_mul(r as i64))),
        ))
    }

    pub(super) fn uuid(&self, c: usize) -> ArrayRef {
        let s = self.stream(c);
        self.rows.texts(|_, r, out| {
            let (hi, lo) = (s.bits(r), s.bits2(r, 1));
            let hi = (hi & !0xF000) | 0x4000;
            let lo = (lo & !(0xC << 60)) | (0x8 << 60);
            push_hex(out, hi >> 32, 8);
            out.push('-');
            push_hex(out, hi >> 16, 4);
            out.push('-');
            push_hex(out, hi, 4);
            out.push('-');
            push_hex(out, lo >> 48, 4);
            out.push('-');
            push_hex(out, lo, 12);
        })
    }
}
