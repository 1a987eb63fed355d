//! Sampling helpers built on [`RandomStream`]: weighted choices, Zipf ranks, sorted
//! uniform positions and random permutations.

use crate::rng::RandomStream;

/// A discrete distribution over `0..n`, sampled by inverse CDF.
#[derive(Clone, Debug)]
pub struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    /// A distribution proportional to `weights` (all finite, non-negative, sum > 0).
    pub fn new(weights: &[f64]) -> Self {
        let total: f64 = weights.iter().sum();
        assert!(total > 0.0, "weights must have a positive sum");
        let mut acc = 0.0;
        let mut cumulative: Vec<f64> = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        Self { cumulative }
    }

    /// A Zipf distribution over `n` ranks with exponent `alpha` (rank 0 most likely).
    pub fn zipf(n: usize, alpha: f64) -> Self {
        let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-alpha)).collect();
        Self::new(&weights)
    }

    /// How many outcomes there are.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Whether there are no outcomes.
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// The outcome at cumulative probability `u` in `[0, 1)`.
    #[inline]
    pub fn at(&self, u: f64) -> usize {
        let i = self.cumulative.partition_point(|&c| c <= u);
        i.min(self.cumulative.len() - 1)
    }

    /// The outcome at cumulative probability `u`, and where `u` falls inside that
    /// outcome's share, as a fraction in `[0, 1)`.
    #[inline]
    pub fn at_with_fraction(&self, u: f64) -> (usize, f64) {
        let i = self.at(u);
        let low = if i == 0 { 0.0 } else { self.cumulative[i - 1] };
        let width = self.cumulative[i] - low;
        let frac = if width > 0.0 {
            ((u - low) / width).clamp(0.0, 0.999_999)
        } else {
            0.0
        };
        (i, frac)
    }

    /// The outcome for row `index` of `stream`.
    #[inline]
    pub fn sample(&self, stream: RandomStream, index: u64) -> usize {
        self.at(stream.unit(index))
    }

    /// The probability of outcome `i`.
    pub fn probability(&self, i: usize) -> f64 {
        self.cumulative[i] - if i == 0 { 0.0 } else { self.cumulative[i - 1] }
    }
}

/// A discrete distribution over `0..n` sampled in constant time (Vose's alias method).
#[derive(Clone, Debug)]
pub struct Alias {
    /// Probability of keeping the column's own outcome, scaled to `u64`.
    keep: Vec<u64>,
    alias: Vec<u32>,
}

impl Alias {
    /// A distribution proportional to `weights` (all finite, non-negative, sum > 0).
    pub fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        assert!(n > 0 && total > 0.0, "weights must have a positive sum");
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        let keep = scaled
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                if large.contains(&i) || p >= 1.0 {
                    u64::MAX
                } else {
                    (p * u64::MAX as f64) as u64
                }
            })
            .collect();
        Self { keep, alias }
    }

    /// A Zipf distribution over `n` ranks with exponent `alpha` (rank 0 most likely).
    pub fn zipf(n: usize, alpha: f64) -> Self {
        let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-alpha)).collect();
        Self::new(&weights)
    }

    /// The outcome drawn from 64 random bits.
    #[inline]
    pub fn sample_bits(&self, bits: u64) -> usize {
        let n = self.keep.len() as u64;
        let column = ((u128::from(bits) * u128::from(n)) >> 64) as usize;
        // The low bits left after choosing the column decide keep or alias.
        let coin = bits.wrapping_mul(n);
        if coin < self.keep[column] {
            column
        } else {
            self.alias[column] as usize
        }
    }

    /// The outcome for row `index` of `stream`.
    #[inline]
    pub fn sample(&self, stream: RandomStream, index: u64) -> usize {
        self.sample_bits(stream.bits(index))
    }
}

/// Walks a [`Weighted`] distribution with ascending `u`, in amortized constant time.
pub struct CdfCursor<'a> {
    weights: &'a Weighted,
    at: usize,
}

impl<'a> CdfCursor<'a> {
    /// A cursor at the start of `weights`.
    pub fn new(weights: &'a Weighted) -> Self {
        Self { weights, at: 0 }
    }

    /// A cursor at outcome `at`.
    pub fn starting_at(weights: &'a Weighted, at: usize) -> Self {
        Self { weights, at }
    }

    /// As [`Weighted::at_with_fraction`], for `u` not below the previous call's.
    #[inline]
    pub fn at_with_fraction(&mut self, u: f64) -> (usize, f64) {
        let c = &self.weights.cumulative;
        while self.at + 1 < c.len() && c[self.at] <= u {
            self.at += 1;
        }
        let low = if self.at == 0 { 0.0 } else { c[self.at - 1] };
        let width = c[self.at] - low;
        let frac = if width > 0.0 {
            ((u - low) / width).clamp(0.0, 0.999_999)
        } else {
            0.0
        };
        (self.at, frac)
    }
}

/// `n` uniform positions in `[0, 1)`, sorted by index, generated block by block.
///
/// The positions are distributed as the order statistics of `n` independent uniforms
/// (so gaps between neighbours are exponential, like arrivals of a Poisson process),
/// and any index range can be produced without producing the rest: block totals are
/// Gamma draws made up front, and positions inside a block are normalized exponential
/// spacings.
#[derive(Clone, Debug)]
pub struct SortedUniforms {
    n: u64,
    stream: RandomStream,
    /// Sum of spacings before each block, plus the grand total at the end.
    block_start: Vec<f64>,
}

/// Rows per block of [`SortedUniforms`]. Part of the output's definition, so it is a
/// constant of its own and not a tuning knob: changing it changes every sorted column.
/// A block is drawn whole, whatever part of it is asked for, so ranges that start and
/// end on block boundaries (the default chunk size is a multiple) draw nothing twice.
pub const SORTED_BLOCK: u64 = 4_096;
const _: () = assert!(crate::DEFAULT_CHUNK_UNITS % SORTED_BLOCK == 0);

impl SortedUniforms {
    /// Sorted positions for `n` rows of the stream `name` under `seed`.
    pub fn new(seed: u64, name: &str, n: u64) -> Self {
        let stream = RandomStream::new(seed, name);
        let block_totals = RandomStream::new(seed, &format!("{name}#blocks"));
        let blocks = n.div_ceil(SORTED_BLOCK);
        let mut block_start = Vec::with_capacity(blocks as usize + 1);
        let mut acc = 0.0;
        for b in 0..blocks {
            block_start.push(acc);
            let len = SORTED_BLOCK.min(n - b * SORTED_BLOCK) as f64;
            acc += block_totals.gamma(b, len);
        }
        // The spacing after the last point.
        acc += -(1.0 - stream.unit2(u64::MAX, 0xE1D)).ln();
        block_start.push(acc);
        Self {
            n,
            stream,
            block_start,
        }
    }

    /// How many positions there are.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Positions of rows `start..end`, ascending, each in `[0, 1)`.
    pub fn range(&self, start: u64, end: u64) -> Vec<f64> {
        assert!(start <= end && end <= self.n);
        let total = *self.block_start.last().expect("has a total");
        let mut out = Vec::with_capacity((end - start) as usize);
        let mut block = start / SORTED_BLOCK;
        while block * SORTED_BLOCK < end {
            let first = block * SORTED_BLOCK;
            let last = (first + SORTED_BLOCK).min(self.n);
            let spacings: Vec<f64> = (first..last).map(|i| self.stream.exponential(i)).collect();
            let sum: f64 = spacings.iter().sum();
            let block_len = self.block_start[block as usize + 1] - self.block_start[block as usize];
            let scale = block_len / sum;
            let mut acc = self.block_start[block as usize];
            for (offset, spacing) in spacings.iter().enumerate() {
                acc += spacing * scale;
                let i = first + offset as u64;
                if i >= start && i < end {
                    out.push((acc / total).min(1.0 - f64::EPSILON));
                }
            }
            block += 1;
        }
        out
    }
}

/// `at(u)` rows belong to the first `u` units: exactly `floor(per_unit x units)` rows
/// on the whole, jittered so each unit has between `floor(per_unit - jitter)` and
/// `ceil(per_unit + jitter)` rows, computable for any `u` on its own. Rows of a unit
/// are contiguous, so a child table laid out this way is grouped by parent. `jitter`
/// must not exceed `per_unit`, which keeps `at` non-decreasing.
#[derive(Clone, Copy, Debug)]
pub struct ExactPrefix {
    /// Mean rows per unit.
    pub per_unit: f64,
    /// Spread of each unit's count around the mean.
    pub jitter: f64,
    /// How many units there are.
    pub units: u64,
    /// The stream the jitter is drawn from.
    pub stream: RandomStream,
}

impl ExactPrefix {
    /// Rows of units `0..u`.
    #[inline]
    pub fn at(&self, u: u64) -> u64 {
        // The values are never negative: truncation is the floor (and, unlike `floor`
        // without SSE4.1, is not a call into libm).
        if u == 0 {
            0
        } else if u >= self.units {
            (self.per_unit * self.units as f64) as u64
        } else {
            (self.per_unit * u as f64 + self.jitter * self.stream.unit(u)) as u64
        }
    }

    /// Rows over all units.
    pub fn total(&self) -> u64 {
        self.at(self.units)
    }

    /// The unit row `row` (below [`ExactPrefix::total`]) belongs to.
    pub fn unit_of(&self, row: u64) -> u64 {
        // The largest u with at(u) <= row; at(units) > row.
        let (mut lo, mut hi) = (0, self.units);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.at(mid) <= row {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// A seeded random permutation of `0..n`.
pub fn permutation(stream: RandomStream, n: usize) -> Vec<u32> {
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = stream.below(i as u64, i as u64 + 1) as usize;
        p.swap(i, j);
    }
    p
}

/// Picks `count` distinct indices of `0..n` (Floyd's algorithm), returned ascending.
pub fn sample_without_replacement(stream: RandomStream, n: u64, count: u64) -> Vec<u64> {
    assert!(count <= n);
    let mut chosen = std::collections::HashSet::with_capacity(count as usize);
    for (draw, j) in (n - count..n).enumerate() {
        let t = stream.below(draw as u64, j + 1);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    let mut out: Vec<u64> = chosen.into_iter().collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_matches_probabilities() {
        let w = Weighted::new(&[0.55, 0.25, 0.13, 0.07]);
        let s = RandomStream::new(3, "w");
        let n = 200_000u64;
        let mut counts = [0usize; 4];
        for i in 0..n {
            counts[w.sample(s, i)] += 1;
        }
        for (k, p) in [0.55, 0.25, 0.13, 0.07].iter().enumerate() {
            let got = counts[k] as f64 / n as f64;
            assert!((got - p).abs() < 0.005, "{k}: {got} vs {p}");
        }
    }

    #[test]
    fn alias_matches_probabilities_and_the_cursor_matches_search() {
        let weights = [0.55, 0.25, 0.13, 0.07, 0.0];
        let a = Alias::new(&weights);
        let s = RandomStream::new(4, "a");
        let n = 400_000u64;
        let mut counts = [0usize; 5];
        for i in 0..n {
            counts[a.sample(s, i)] += 1;
        }
        for (k, p) in weights.iter().enumerate() {
            let got = counts[k] as f64 / n as f64;
            assert!((got - p).abs() < 0.004, "{k}: {got} vs {p}");
        }
        let w = Weighted::new(&[3.0, 0.0, 1.0, 2.0, 5.0]);
        let mut cursor = CdfCursor::new(&w);
        for i in 0..1000 {
            let u = i as f64 / 1000.0;
            assert_eq!(cursor.at_with_fraction(u), w.at_with_fraction(u), "{u}");
        }
    }

    #[test]
    fn sorted_uniforms_are_sorted_and_range_independent() {
        let su = SortedUniforms::new(5, "t", 50_000);
        let all = su.range(0, 50_000);
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
        assert!(all[0] >= 0.0 && *all.last().unwrap() < 1.0);
        assert_eq!(su.range(17_000, 33_001), all[17_000..33_001].to_vec());
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        assert!((mean - 0.5).abs() < 0.01);
        // Median gap close to ln 2 / n for exponential spacings.
        let mut gaps: Vec<f64> = all.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_by(f64::total_cmp);
        let median = gaps[gaps.len() / 2] * 50_000.0;
        assert!(
            (median - std::f64::consts::LN_2).abs() < 0.03,
            "median gap {median}"
        );
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut p = permutation(RandomStream::new(1, "p"), 1000);
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<u32>>());
    }

    #[test]
    fn sample_without_replacement_is_exact() {
        let s = sample_without_replacement(RandomStream::new(1, "s"), 10_000, 123);
        assert_eq!(s.len(), 123);
        assert!(s.windows(2).all(|w| w[0] < w[1]) && *s.last().unwrap() < 10_000);
    }
}
