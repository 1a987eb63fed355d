//! Sampling helpers built on [`RandomStream`]: weighted choices, Zipf ranks, sorted
//! uniform positions and random permutations.

use crate::rng::{RandomStream, mix64};
use foldhash::fast::FixedState;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

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
        // The low bits left after choosing the column decide keep or alias: a coin
        // that a branch would guess wrong about as often as right, so both outcomes are
        // read and one chosen by mask.
        let coin = bits.wrapping_mul(n);
        let alias = self.alias[column] as usize;
        let keep = usize::from(coin < self.keep[column]).wrapping_neg();
        alias ^ ((alias ^ column) & keep)
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
    /// For rows read one by one ([`SortedUniforms::at`]): per block, once one of its
    /// rows is asked for, where it stands every [`CHECKPOINT_ROWS`] rows.
    checkpoints: OnceLock<Box<[OnceLock<Checkpoints>]>>,
}

/// Rows between two [`Checkpoints`] of a block.
const CHECKPOINT_ROWS: u64 = 8;

/// Rows of one block asked for at once from which [`SortedUniforms::at`] draws the
/// block whole rather than from checkpoints (which cost up to [`CHECKPOINT_ROWS`]
/// spacings a row, half that on average).
const DRAW_WHOLE_FROM_ROWS: u64 = 2 * SORTED_BLOCK / CHECKPOINT_ROWS;

/// Blocks of the largest table whose checkpoints are kept (134 million rows; 128 MiB of
/// checkpoints once every block is read). Past it, [`SortedUniforms::at`] draws each
/// block it reads whole, as [`SortedUniforms::range`] does, and keeps nothing.
const MAX_CHECKPOINTED_BLOCKS: u64 = 32_768;

/// A drawn block's scale and its running position before every [`CHECKPOINT_ROWS`]th
/// row: a row of it is then made from at most that many spacings, exactly as
/// [`SortedUniforms::range`] makes it (the same additions in the same order).
#[derive(Clone, Debug)]
struct Checkpoints {
    scale: f64,
    before: Vec<f64>,
}

/// Rows per block of [`SortedUniforms`]. Part of the output's definition, so it is a
/// constant of its own and not a tuning knob: changing it changes every sorted column.
/// A block is drawn whole, whatever part of it is asked for, so ranges that start and
/// end on block boundaries (the default chunk size is a multiple) draw nothing twice.
pub const SORTED_BLOCK: u64 = 4_096;
const _: () = assert!(crate::chunks::DEFAULT_CHUNK_UNITS % SORTED_BLOCK == 0);

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
        acc += crate::rng::standard_exponential(stream.bits2(u64::MAX, 0xE1D));
        block_start.push(acc);
        Self {
            n,
            stream,
            block_start,
            checkpoints: OnceLock::new(),
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
        let mut out = Vec::with_capacity((end - start) as usize);
        let mut block = start / SORTED_BLOCK;
        while block * SORTED_BLOCK < end {
            let first = block * SORTED_BLOCK;
            let (spacings, scale) = self.block_spacings(block);
            let mut acc = self.block_start[block as usize];
            for (offset, spacing) in spacings.iter().enumerate() {
                acc += spacing * scale;
                let i = first + offset as u64;
                if i >= start && i < end {
                    out.push(self.position(acc));
                }
            }
            block += 1;
        }
        out
    }

    /// Positions of `rows` (any order, each below [`SortedUniforms::len`]), equal to
    /// what [`SortedUniforms::range`] gives them. A block with many of the rows is
    /// drawn whole; rows scattered over many blocks (a lookup into a sorted table) are
    /// made from checkpoints: each block drawn whole once for the run and kept as 513
    /// numbers (4 KiB per 4,096 rows), after which a row costs at most
    /// [`CHECKPOINT_ROWS`] spacings where drawing its block costs 4,096 (up to
    /// [`MAX_CHECKPOINTED_BLOCKS`]; a larger table has every block it reads drawn whole).
    pub fn at(&self, rows: &[u64]) -> Vec<f64> {
        let checkpointed = self.n.div_ceil(SORTED_BLOCK) <= MAX_CHECKPOINTED_BLOCKS;
        // Where checkpoints are kept, a block is drawn whole when it holds enough of the
        // rows, which it cannot when fewer are asked for.
        let mut whole: HashMap<u64, Vec<f64>, FixedState> = HashMap::default();
        if !checkpointed || rows.len() as u64 >= DRAW_WHOLE_FROM_ROWS {
            let mut per_block: HashMap<u64, u32, FixedState> = HashMap::default();
            for &row in rows {
                *per_block.entry(row / SORTED_BLOCK).or_default() += 1;
            }
            whole = per_block
                .into_iter()
                .filter(|&(_, count)| !checkpointed || u64::from(count) >= DRAW_WHOLE_FROM_ROWS)
                .map(|(block, _)| {
                    let first = block * SORTED_BLOCK;
                    let last = (first + SORTED_BLOCK).min(self.n);
                    (block, self.range(first, last))
                })
                .collect();
        }
        rows.iter()
            .map(|&row| {
                assert!(row < self.n, "row {row} of {}", self.n);
                let block = row / SORTED_BLOCK;
                match whole.get(&block) {
                    Some(drawn) => drawn[(row - block * SORTED_BLOCK) as usize],
                    None => self.checkpointed(row),
                }
            })
            .collect()
    }

    /// The position of `row`, from its block's checkpoints (made on first use).
    fn checkpointed(&self, row: u64) -> f64 {
        let blocks = self.checkpoints.get_or_init(|| {
            (0..self.n.div_ceil(SORTED_BLOCK))
                .map(|_| OnceLock::new())
                .collect()
        });
        let block = row / SORTED_BLOCK;
        let first = block * SORTED_BLOCK;
        let marks = blocks[block as usize].get_or_init(|| {
            let (spacings, scale) = self.block_spacings(block);
            let mut acc = self.block_start[block as usize];
            let mut before = Vec::with_capacity(spacings.len().div_ceil(CHECKPOINT_ROWS as usize));
            for (offset, spacing) in spacings.iter().enumerate() {
                if offset as u64 % CHECKPOINT_ROWS == 0 {
                    before.push(acc);
                }
                acc += spacing * scale;
            }
            Checkpoints { scale, before }
        });
        let mark = (row - first) / CHECKPOINT_ROWS;
        let mut acc = marks.before[mark as usize];
        for i in first + mark * CHECKPOINT_ROWS..=row {
            acc += self.stream.exponential(i) * marks.scale;
        }
        self.position(acc)
    }

    /// The spacings of `block` and the scale that makes them fill it.
    fn block_spacings(&self, block: u64) -> (Vec<f64>, f64) {
        let first = block * SORTED_BLOCK;
        let last = (first + SORTED_BLOCK).min(self.n);
        let spacings: Vec<f64> = (first..last).map(|i| self.stream.exponential(i)).collect();
        let sum: f64 = spacings.iter().sum();
        let block_len = self.block_start[block as usize + 1] - self.block_start[block as usize];
        (spacings, block_len / sum)
    }

    /// The position in `[0, 1)` of a running sum of spacings.
    fn position(&self, acc: f64) -> f64 {
        let total = *self.block_start.last().expect("has a total");
        (acc / total).min(1.0 - f64::EPSILON)
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
}

/// Units per block of a [`SpreadPrefix`]: block boundaries are fixed, the rows of a
/// block are spread over its units at random.
const SPREAD_BLOCK: u64 = 64;

/// `at(u)` rows belong to the first `u` units, with the per-unit counts a uniform
/// foreign key gives (each row picks its unit at random: multinomial counts, about
/// Poisson(`per_unit`), zeros and long tails included), but grouped: rows of a unit are
/// contiguous, so a child table laid out this way is grouped by parent. Exactly
/// `floor(per_unit x units)` rows on the whole, as many in each block of
/// [`SPREAD_BLOCK`] units as the mean gives it; within a block the rows are split
/// between the halves of each range of units by a binomial draw (counter-based, so
/// `at` is computable for any `u` on its own, in `O(log SPREAD_BLOCK)` draws plus
/// one 64-bit word per 64 rows of the block).
#[derive(Clone, Copy, Debug)]
pub struct SpreadPrefix {
    /// Mean rows per unit.
    pub per_unit: f64,
    /// Rows every unit has before the rest are spread (0, or 1 for children a parent
    /// cannot be without); at most `per_unit`.
    pub floor: u64,
    /// How many units there are.
    pub units: u64,
    /// The stream the split draws come from.
    pub stream: RandomStream,
}

impl SpreadPrefix {
    /// Rows of units `0..u`.
    pub fn at(&self, u: u64) -> u64 {
        if u >= self.units {
            self.total()
        } else {
            self.rows_of(u).start
        }
    }

    /// The rows of unit `u` (below `units`), in one descent of its block's tree.
    pub fn rows_of(&self, u: u64) -> Range<u64> {
        let block = u / SPREAD_BLOCK;
        let (start, width, spread) = self.block(block);
        let offset = u - block * SPREAD_BLOCK;
        let (_, below, own) = self.descend(block, width, spread, |_, middle| offset >= middle);
        let first = start + self.floor * offset + below;
        first..first + self.floor + own
    }

    /// Rows over all units.
    pub fn total(&self) -> u64 {
        (self.per_unit * self.units as f64) as u64
    }

    /// The unit row `row` (below [`SpreadPrefix::total`]) belongs to: its block by
    /// the blocks' fixed starts, then one descent of the block's tree by rows.
    pub fn unit_of(&self, row: u64) -> u64 {
        self.unit_and_rows_of(row).0
    }

    /// The unit row `row` belongs to, and all of that unit's rows (from the same
    /// descent as [`SpreadPrefix::unit_of`]).
    pub fn unit_and_rows_of(&self, row: u64) -> (u64, Range<u64>) {
        let blocks = self.units.div_ceil(SPREAD_BLOCK);
        // The last block starting at or before the row (blocks without rows share
        // their start with the next).
        let (mut block, mut hi) = (0, blocks);
        while hi - block > 1 {
            let mid = block + (hi - block) / 2;
            if self.block_start(mid) <= row {
                block = mid;
            } else {
                hi = mid;
            }
        }
        let (start, width, spread) = self.block(block);
        // Rows of the node's first unit onwards, before `row`.
        let mut ahead = row - start;
        let (lo, below, own) = self.descend(block, width, spread, |left_rows, _| {
            let right = ahead >= left_rows;
            if right {
                ahead -= left_rows;
            }
            right
        });
        let first = start + self.floor * lo + below;
        (block * SPREAD_BLOCK + lo, first..first + self.floor + own)
    }

    /// A cursor for reading `at` over nearby units (a block's counts made at once).
    pub fn cursor(&self) -> SpreadCursor<'_> {
        SpreadCursor {
            prefix: self,
            block: u64::MAX,
            starts: [0; SPREAD_BLOCK as usize + 1],
        }
    }

    /// Walks block `block`'s tree from the root to one unit, going right where
    /// `right(rows of the left half, floor rows included; the right half's first slot)`
    /// says so. Returns the unit's slot, the spread rows before it in the block, and
    /// its own spread rows.
    fn descend(
        &self,
        block: u64,
        width: u64,
        spread: u64,
        mut right: impl FnMut(u64, u64) -> bool,
    ) -> (u64, u64, u64) {
        let (mut lo, mut size, mut rows, mut node, mut below) = (0, SPREAD_BLOCK, spread, 1, 0);
        while size > 1 {
            let half = size / 2;
            let to_left = if rows > 0 {
                self.split(block, node, lo, half, width, rows)
            } else {
                0
            };
            let left_rows = self.floor * half.min(width.saturating_sub(lo)) + to_left;
            if right(left_rows, lo + half) {
                below += to_left;
                rows -= to_left;
                lo += half;
                node = 2 * node + 1;
            } else {
                rows = to_left;
                node *= 2;
            }
            size = half;
        }
        (lo, below, rows)
    }

    /// Block `block`'s first row, its units and the rows spread over them (beyond the
    /// floor).
    fn block(&self, block: u64) -> (u64, u64, u64) {
        let first = block * SPREAD_BLOCK;
        let width = SPREAD_BLOCK.min(self.units - first);
        let start = self.block_start(block);
        let end = self.block_start(block + 1);
        (start, width, end - start - self.floor * width)
    }

    /// The first row of block `block`: block boundaries are fixed at
    /// `floor(per_unit x first unit)`.
    fn block_start(&self, block: u64) -> u64 {
        let first = block.saturating_mul(SPREAD_BLOCK);
        if first >= self.units {
            self.total()
        } else {
            // Never negative: truncation is the floor.
            (self.per_unit * first as f64) as u64
        }
    }

    /// Of the `rows` rows of the range of `2 x half` slots from `lo` (tree node `node`
    /// of `block`, whose units end at `width`), how many fall to its left half:
    /// Binomial(rows, left / (left + right)) on the units each half holds.
    fn split(&self, block: u64, node: u64, lo: u64, half: u64, width: u64, rows: u64) -> u64 {
        let left = half.min(width.saturating_sub(lo));
        let right = half.min(width.saturating_sub(lo + half));
        let key = block * (2 * SPREAD_BLOCK) + node;
        if right == 0 {
            rows
        } else if left == right {
            // Binomial(rows, 1/2): the set bits among `rows` random bits.
            let mut count = 0;
            let mut word = 0;
            let mut left_bits = rows;
            while left_bits > 0 {
                // One mix a word: a node's first 64 words are its own counters
                // (4,096 rows; more only above 64 rows a unit).
                let bits = if word < 64 {
                    self.stream.bits(key * 64 + word)
                } else {
                    self.stream.bits2(key, word)
                };
                let take = left_bits.min(64);
                let masked = if take == 64 {
                    bits
                } else {
                    bits & ((1 << take) - 1)
                };
                count += u64::from(masked.count_ones());
                left_bits -= take;
                word += 1;
            }
            count
        } else {
            (0..rows)
                .filter(|&j| self.stream.below2(key, j, left + right) < left)
                .count() as u64
        }
    }

    /// Spreads block `block`'s `rows` rows over its `width` units, into `counts`.
    fn fill(&self, block: u64, width: u64, rows: u64, counts: &mut [u64]) {
        // Depth first; a node's right half waits while its left is walked, so at most
        // one node a level waits.
        let mut pending = [(0u64, 0u64, 0u64, 0u64); 8];
        pending[0] = (1, 0, SPREAD_BLOCK, rows);
        let mut waiting = 1;
        while waiting > 0 {
            waiting -= 1;
            let (node, lo, size, rows) = pending[waiting];
            if rows == 0 {
                continue;
            }
            if size == 1 {
                counts[lo as usize] = rows;
                continue;
            }
            let half = size / 2;
            let to_left = self.split(block, node, lo, half, width, rows);
            pending[waiting] = (2 * node + 1, lo + half, half, rows - to_left);
            pending[waiting + 1] = (2 * node, lo, half, to_left);
            waiting += 2;
        }
    }
}

/// Reads [`SpreadPrefix::at`] block by block: the first read in a block makes all of
/// its units' starts (one walk of its tree), the others are a lookup. The values are
/// `at`'s.
pub struct SpreadCursor<'a> {
    prefix: &'a SpreadPrefix,
    block: u64,
    starts: [u64; SPREAD_BLOCK as usize + 1],
}

impl SpreadCursor<'_> {
    /// Rows of units `0..u`.
    pub fn at(&mut self, u: u64) -> u64 {
        let p = self.prefix;
        if u >= p.units {
            return p.total();
        }
        let block = u / SPREAD_BLOCK;
        self.load(block);
        self.starts[(u - block * SPREAD_BLOCK) as usize]
    }

    /// Makes block `block`'s starts, unless they are the ones held.
    fn load(&mut self, block: u64) {
        if block == self.block {
            return;
        }
        let p = self.prefix;
        let (start, width, spread) = p.block(block);
        let mut counts = [0; SPREAD_BLOCK as usize];
        p.fill(block, width, spread, &mut counts);
        self.starts[0] = start;
        for (i, count) in counts.iter().take(width as usize).enumerate() {
            self.starts[i + 1] = self.starts[i] + p.floor + count;
        }
        self.block = block;
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

/// A bijection of `0..n` from a four-round unbalanced Feistel network over the next
/// power of two (so at most two passes per value on average, walking cycles back into
/// range): the halves have `bits / 2` and `bits - bits / 2` bits and trade widths each
/// round.
pub(crate) struct Feistel {
    n: u64,
    /// Bits of the left and right halves of a value going in.
    widths: (u32, u32),
    keys: [u64; 4],
}

impl Feistel {
    pub(crate) fn new(n: u64, stream: RandomStream) -> Self {
        let bits = 64 - n.max(2).saturating_sub(1).leading_zeros();
        Self {
            n,
            widths: (bits / 2, bits - bits / 2),
            keys: [
                stream.bits(0),
                stream.bits(1),
                stream.bits(2),
                stream.bits(3),
            ],
        }
    }

    /// One pass through the network: a bijection of `0..2^bits`.
    #[inline]
    fn pass(&self, v: u64) -> u64 {
        let mask = |bits: u32| (1u64 << bits) - 1;
        let (left_bits, right_bits) = self.widths;
        let (mut l, mut r) = (v >> right_bits, v & mask(right_bits));
        let mut l_bits = left_bits;
        for k in self.keys {
            // (l, r) -> (r, l ^ F(r)): the halves swap, and with them their widths.
            let f = mix64(r ^ k) & mask(l_bits);
            (l, r) = (r, l ^ f);
            l_bits = left_bits + right_bits - l_bits;
        }
        // An even number of rounds leaves the widths as they came in.
        (l << right_bits) | r
    }

    /// The image of `x` on its own (the tests check [`Feistel::apply_all`] against it).
    #[cfg(test)]
    pub(crate) fn apply(&self, x: u64) -> u64 {
        let mut v = self.pass(x);
        while v >= self.n {
            v = self.pass(v);
        }
        v
    }

    /// [`Feistel::apply`] of each of `values`, in place: a first pass of every value
    /// (chains of multiplications that do not wait on each other, nor on a branch
    /// deciding whether a value walks on), then the walk of those that left `0..n`.
    pub(crate) fn apply_all(&self, values: &mut [u64]) {
        for v in values.iter_mut() {
            *v = self.pass(*v);
        }
        for v in values.iter_mut() {
            while *v >= self.n {
                *v = self.pass(*v);
            }
        }
    }
}

/// The parent at each popularity rank of a skewed key: a [`Feistel`] permutation of the
/// parent rows, held as a table where the children outnumber the parents four times or
/// more (each parent's place is then looked up several times over; the table takes 4
/// bytes a parent, up to 4 MiB).
pub(crate) enum Ranks {
    Computed(Feistel),
    Table(Box<[u32]>),
}

impl Ranks {
    /// Most parents whose ranks are tabulated.
    pub(crate) const TABLE_MAX: u64 = 1 << 20;

    pub(crate) fn new(parents: u64, children: u64, stream: RandomStream) -> Self {
        let perm = Feistel::new(parents, stream);
        if parents <= Self::TABLE_MAX && children >= 4 * parents {
            let mut ranks: Vec<u64> = (0..parents).collect();
            perm.apply_all(&mut ranks);
            Self::Table(ranks.into_iter().map(|r| r as u32).collect())
        } else {
            Self::Computed(perm)
        }
    }

    /// The parent at each rank of `ranks` (nulls left null), in place.
    pub(crate) fn apply_all(&self, ranks: &mut [Option<u64>]) {
        match self {
            Self::Computed(perm) => {
                let mut present: Vec<u64> = ranks.iter().flatten().copied().collect();
                perm.apply_all(&mut present);
                for (r, parent) in ranks.iter_mut().flatten().zip(present) {
                    *r = parent;
                }
            }
            Self::Table(parents) => {
                for r in ranks.iter_mut().flatten() {
                    *r = u64::from(parents[*r as usize]);
                }
            }
        }
    }
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

    /// Rows asked for one by one, scattered or many in one block, in any order and
    /// again (checkpoints made by an earlier request), are exactly what `range` gives.
    #[test]
    fn sorted_uniforms_at_rows_equals_range() {
        let n = 50_000 + 123; // a last block that is not full
        let su = SortedUniforms::new(9, "t", n);
        let all = su.range(0, n);
        let s = RandomStream::new(1, "rows");
        let scattered: Vec<u64> = (0..500).map(|i| s.below(i, n)).collect();
        // Enough rows of one block for it to be drawn whole, among scattered ones (too
        // few to draw any block whole on their own), the last row too.
        assert!((scattered.len() as u64) < DRAW_WHOLE_FROM_ROWS);
        let dense: Vec<u64> = (0..DRAW_WHOLE_FROM_ROWS + 100)
            .map(|i| 8_192 + s.below(10_000 + i, 4_096))
            .chain(scattered.iter().copied())
            .chain([n - 1, 0])
            .collect();
        for rows in [&scattered, &dense, &scattered] {
            let expected: Vec<f64> = rows.iter().map(|&r| all[r as usize]).collect();
            let got = su.at(rows);
            assert!(
                got.iter()
                    .zip(&expected)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "positions differ from range's"
            );
        }
        // A table past the checkpointed size: every block read is drawn whole.
        let n = MAX_CHECKPOINTED_BLOCKS * SORTED_BLOCK + 5_000;
        let su = SortedUniforms::new(9, "big", n);
        let rows: Vec<u64> = (0..50)
            .map(|i| s.below(20_000 + i, n))
            .chain([n - 1])
            .collect();
        let got = su.at(&rows);
        for (&row, got) in rows.iter().zip(got) {
            let first = row / SORTED_BLOCK * SORTED_BLOCK;
            let block = su.range(first, (first + SORTED_BLOCK).min(n));
            assert_eq!(got.to_bits(), block[(row - first) as usize].to_bits());
        }
        assert!(su.checkpoints.get().is_none(), "no checkpoints kept");
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
    #[test]
    fn spread_prefix_is_exact_grouped_and_spread_like_a_uniform_key() {
        for (per_unit, floor, units) in [
            (1.5, 0, 100_003),
            (2.5, 1, 40_037),
            (0.3, 0, 99_991),
            (20.0, 0, 20_011),
        ] {
            let p = SpreadPrefix {
                per_unit,
                floor,
                units,
                stream: RandomStream::new(3, "spread"),
            };
            let total = (per_unit * units as f64) as u64;
            assert_eq!((p.at(0), p.at(units), p.total()), (0, total, total));
            let counts: Vec<u64> = (0..units).map(|u| p.at(u + 1) - p.at(u)).collect();
            assert!(
                counts.iter().all(|&c| c >= floor),
                "every unit has its floor"
            );
            assert_eq!(counts.iter().sum::<u64>(), total);
            // Multinomial counts over the spread rows: mean and variance of the spread part
            // are about (per_unit - floor).
            let spread = per_unit - floor as f64;
            let n = units as f64;
            let mean = counts.iter().map(|&c| (c - floor) as f64).sum::<f64>() / n;
            let var = counts
                .iter()
                .map(|&c| ((c - floor) as f64 - mean).powi(2))
                .sum::<f64>()
                / n;
            assert!(
                (var / spread - 1.0).abs() < 0.05,
                "{per_unit}: variance {var}, mean {mean}"
            );
            if (0.1..3.0).contains(&per_unit) {
                // Zeros as often as Poisson gives them.
                let zeros = counts.iter().filter(|&&c| c == floor).count() as f64 / n;
                assert!(
                    (zeros - (-spread).exp()).abs() < 0.01,
                    "{per_unit}: zeros {zeros}"
                );
            }
            for row in (0..total).step_by(97) {
                let (u, rows) = p.unit_and_rows_of(row);
                assert!(p.at(u) <= row && row < p.at(u + 1), "row {row}: unit {u}");
                assert_eq!(rows, p.rows_of(u), "row {row}");
            }
            // The cursor and one unit's rows read the same prefix, in any order.
            let mut cursor = p.cursor();
            for u in (0..=units).step_by(7).chain((0..units).rev().step_by(61)) {
                assert_eq!(cursor.at(u), p.at(u), "unit {u}");
                if u < units {
                    assert_eq!(p.rows_of(u), p.at(u)..p.at(u + 1), "unit {u}");
                }
            }
        }
    }

    #[test]
    fn tabulated_ranks_are_the_permutation() {
        let stream = RandomStream::new(4, "ranks");
        let perm = Feistel::new(5_000, stream);
        let table = Ranks::new(5_000, 20_000, stream);
        assert!(matches!(table, Ranks::Table(_)));
        assert!(matches!(
            Ranks::new(5_000, 19_999, stream),
            Ranks::Computed(_)
        ));
        let computed = Ranks::Computed(Feistel::new(5_000, stream));
        let mut ranks: Vec<Option<u64>> = (0..5_000).map(Some).collect();
        ranks[7] = None;
        let mut tabulated = ranks.clone();
        computed.apply_all(&mut ranks);
        table.apply_all(&mut tabulated);
        assert_eq!(ranks, tabulated);
        assert_eq!(ranks[7], None);
        assert!((0..5_000).all(|r| r == 7 || ranks[r] == Some(perm.apply(r as u64))));
    }

    #[test]
    fn feistel_is_a_bijection() {
        for n in [1u64, 2, 3, 7, 100, 1000, 4097] {
            let f = Feistel::new(n, RandomStream::new(1, "f"));
            let mut seen: Vec<u64> = (0..n).map(|x| f.apply(x)).collect();
            let mut all: Vec<u64> = (0..n).collect();
            f.apply_all(&mut all);
            assert_eq!(all, seen, "n = {n}: one at a time and all at once");
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
    }
}
