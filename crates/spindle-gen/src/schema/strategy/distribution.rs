//! Numbers drawn from a distribution (`distribution`): uniform, normal, log-normal,
//! Pareto, Zipf (from an exact table), geometric, Poisson and Bernoulli, clamped to
//! `min`/`max` and rounded.

use super::super::eval::Eval;
use super::super::model::{Dist, Generator};
use super::super::parse::{Gen, Parser};
use super::{Planning, Prep, Strategy};
use crate::dist::Alias;
use crate::error::{Error, Result};
use crate::rng::RandomStream;
use arrow_array::{ArrayRef, Float64Array};
use std::sync::Arc;

pub(super) const DISTRIBUTION: Strategy = Strategy {
    name: "distribution",
    keys: &[
        "distribution",
        "mean",
        "sigma",
        "std",
        "std_dev",
        "min",
        "max",
        "alpha",
        "p",
        "lambda",
        "probability",
        "round",
    ],
    parse: |p, _, g| p.distribution(g),
};

/// Zipf picks over at most this many ranks use an exact table (foreign keys beyond
/// it, a continuous approximation).
pub(super) const ZIPF_TABLE_MAX: u64 = 1 << 22;

impl Parser<'_> {
    fn distribution(&mut self, g: &Gen) -> Option<Generator> {
        let name = self.gen_text(g, "distribution").unwrap_or("uniform");
        let min = self.gen_number(g, "min");
        let max = self.gen_number(g, "max");
        let dist = self.dist(g, name, min, max)?;
        if let (Some(lo), Some(hi)) = (min, max) {
            if lo > hi {
                self.err(format!("{}.min", g.path), format!("{lo} is above max {hi}"));
                return None;
            }
        }
        let round = match g.get("round") {
            None => None,
            Some((v, at)) => match v.as_u64() {
                Some(n) if n <= 15 => Some(n as i32),
                _ => {
                    self.err(at, "must be a whole number in 0..15");
                    return None;
                }
            },
        };
        Some(Generator::Distribution {
            dist,
            min,
            max,
            round,
        })
    }

    /// The distribution called `name` with `g`'s parameters (`min` and `max` bound
    /// some distributions as well as clamping every one).
    fn dist(&mut self, g: &Gen, name: &str, min: Option<f64>, max: Option<f64>) -> Option<Dist> {
        let num = |p: &mut Self, key: &str| p.gen_number(g, key);
        Some(match name {
            "uniform" => Dist::Uniform {
                min: min.unwrap_or(0.0),
                max: max.unwrap_or(1.0),
            },
            "normal" => {
                let sd = num(self, "std_dev")
                    .or_else(|| num(self, "sigma"))
                    .or_else(|| num(self, "std"))
                    .unwrap_or(1.0);
                Dist::Normal {
                    mean: num(self, "mean").unwrap_or(0.0),
                    sd: self.not_negative(g, "sigma", sd)?,
                }
            }
            "log_normal" | "lognormal" => {
                let sigma = num(self, "sigma")
                    .or_else(|| num(self, "std"))
                    .unwrap_or(1.0);
                Dist::LogNormal {
                    mean: num(self, "mean").unwrap_or(0.0),
                    sigma: self.not_negative(g, "sigma", sigma)?,
                }
            }
            "pareto" => {
                let alpha = num(self, "alpha").unwrap_or(1.5);
                Dist::Pareto {
                    alpha: self.above_zero(g, "alpha", alpha)?,
                    min: min.unwrap_or(1.0),
                }
            }
            "zipf" => self.zipf(g, max)?,
            "geometric" => Dist::Geometric {
                p: self.within(g, "p", 0.5, |p| p > 0.0 && p <= 1.0, "(0, 1]")?,
            },
            "poisson" => Dist::Poisson {
                lambda: self.within(g, "lambda", 5.0, |l| (0.0..=1e9).contains(&l), "0..1e9")?,
            },
            "bernoulli" => Dist::Bernoulli {
                p: self.within(g, "probability", 0.5, |p| (0.0..=1.0).contains(&p), "0..1")?,
            },
            other => {
                self.err(
                    format!("{}.distribution", g.path),
                    format!("unknown distribution '{other}'; allowed: uniform, normal, log_normal, pareto, zipf, geometric, poisson, bernoulli"),
                );
                return None;
            }
        })
    }

    fn zipf(&mut self, g: &Gen, max: Option<f64>) -> Option<Dist> {
        let alpha = self.gen_number(g, "alpha").unwrap_or(1.5);
        if alpha <= 1.0 {
            self.err(
                format!("{}.alpha", g.path),
                format!("must be above 1 for zipf, not {alpha}"),
            );
            return None;
        }
        let max = max.unwrap_or(1000.0);
        if max < 1.0 {
            self.err(format!("{}.max", g.path), "must be at least 1 for zipf");
            return None;
        }
        Some(Dist::Zipf {
            alpha,
            max: max as u64,
        })
    }

    /// A spread `v`, refused (as `key`) when negative.
    fn not_negative(&mut self, g: &Gen, key: &str, v: f64) -> Option<f64> {
        if v >= 0.0 {
            Some(v)
        } else {
            self.above_zero(g, key, v)
        }
    }

    fn above_zero(&mut self, g: &Gen, key: &str, v: f64) -> Option<f64> {
        if v > 0.0 {
            return Some(v);
        }
        self.err(
            format!("{}.{key}", g.path),
            format!("must be above 0, not {v}"),
        );
        None
    }

    /// Parameter `key` (`default` when absent), refused unless `ok` (`range` names
    /// the allowed values).
    fn within(
        &mut self,
        g: &Gen,
        key: &str,
        default: f64,
        ok: impl Fn(f64) -> bool,
        range: &str,
    ) -> Option<f64> {
        let v = self.gen_number(g, key).unwrap_or(default);
        if ok(v) {
            return Some(v);
        }
        self.err(
            format!("{}.{key}", g.path),
            format!("{v} is not in {range}"),
        );
        None
    }
}

/// A Zipf distribution's exact table of ranks.
pub(super) fn prep(at: &Planning, dist: Dist) -> Result<Prep> {
    let Dist::Zipf { alpha, max } = dist else {
        return Ok(Prep::default());
    };
    if max > ZIPF_TABLE_MAX {
        return Err(Error::Schema(format!(
            "{}.generator.max: zipf ranks are limited to {}",
            at.path,
            crate::report::thousands(ZIPF_TABLE_MAX)
        )));
    }
    Ok(Prep {
        alias: Some(Alias::zipf(max as usize, alpha)),
        ..Prep::default()
    })
}

impl Eval<'_> {
    pub(super) fn distribution(
        &self,
        c: usize,
        dist: Dist,
        min: Option<f64>,
        max: Option<f64>,
    ) -> ArrayRef {
        let (s, prep) = (self.stream(c), &self.e.preps[self.t][c]);
        let v = self.rows.map(|r| {
            let x = draw(dist, s, r, prep);
            let x = min.map_or(x, |m| x.max(m));
            max.map_or(x, |m| x.min(m))
        });
        Arc::new(Float64Array::from(v))
    }
}

/// One draw of a distribution for row `r`.
fn draw(d: Dist, s: RandomStream, r: u64, prep: &Prep) -> f64 {
    match d {
        Dist::Uniform { min, max } => min + (max - min) * s.unit(r),
        Dist::Normal { mean, sd } => mean + sd * s.normal(r),
        Dist::LogNormal { mean, sigma } => (mean + sigma * s.normal(r)).exp(),
        Dist::Pareto { alpha, min } => min * (1.0 - s.unit(r)).powf(-1.0 / alpha),
        Dist::Zipf { .. } => (prep.alias.as_ref().expect("zipf table").sample(s, r) + 1) as f64,
        Dist::Geometric { p } => {
            if p >= 1.0 {
                1.0
            } else {
                ((1.0 - s.unit(r)).ln() / (1.0 - p).ln()).ceil().max(1.0)
            }
        }
        Dist::Poisson { lambda } => {
            if lambda < 30.0 {
                let f = s.fork(r);
                let limit = (-lambda).exp();
                let mut k = 0u64;
                let mut prod = f.unit(0);
                while prod > limit {
                    k += 1;
                    prod *= f.unit(k);
                }
                k as f64
            } else {
                (lambda + lambda.sqrt() * s.normal(r)).round().max(0.0)
            }
        }
        Dist::Bernoulli { p } => f64::from(u8::from(s.unit(r) < p)),
    }
}
