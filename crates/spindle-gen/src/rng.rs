//! Counter-based random streams.
//!
//! Every random value the generators draw is a pure function of
//! `(seed, stream name, row index[, draw index])`. That is what makes any chunk of any
//! table reproducible on its own, independent of chunk size and thread count.

/// The SplitMix64 finalizer: a bijective 64-bit mixer with good avalanche.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// FNV-1a of a name, used to give every stream its own key.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A named random stream, addressable by row index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomStream(u64);

impl RandomStream {
    /// The stream called `name` under `seed`.
    pub fn new(seed: u64, name: &str) -> Self {
        Self(mix64(mix64(seed ^ GOLDEN) ^ name_hash(name)))
    }

    /// The raw 64 random bits for row `index`.
    #[inline]
    pub fn bits(self, index: u64) -> u64 {
        mix64(self.0.wrapping_add(index.wrapping_mul(GOLDEN)))
    }

    /// The random bits of the `draw`-th extra draw for row `index`.
    #[inline]
    pub fn bits2(self, index: u64, draw: u64) -> u64 {
        mix64(self.bits(index) ^ mix64(draw.wrapping_add(GOLDEN)))
    }

    /// A uniform value in `[0, 1)` for row `index`.
    #[inline]
    pub fn unit(self, index: u64) -> f64 {
        to_unit(self.bits(index))
    }

    /// A uniform value in `[0, 1)` for the `draw`-th extra draw of row `index`.
    #[inline]
    pub fn unit2(self, index: u64, draw: u64) -> f64 {
        to_unit(self.bits2(index, draw))
    }

    /// A uniform integer in `0..n` for row `index` (`n > 0`).
    #[inline]
    pub fn below(self, index: u64, n: u64) -> u64 {
        ((u128::from(self.bits(index)) * u128::from(n)) >> 64) as u64
    }

    /// A uniform integer in `0..n` for the `draw`-th extra draw of row `index`.
    #[inline]
    pub fn below2(self, index: u64, draw: u64, n: u64) -> u64 {
        ((u128::from(self.bits2(index, draw)) * u128::from(n)) >> 64) as u64
    }

    /// A stream of row `index`'s own: its `bits(d)` is row `index`'s `d`-th draw. For
    /// rows that draw an unknown number of times (rejection sampling), each draw then
    /// costs one mix instead of the three of [`RandomStream::bits2`].
    #[inline]
    pub fn fork(self, index: u64) -> Self {
        Self(self.bits(index))
    }

    /// A standard normal value for row `index` (Box-Muller on two draws).
    #[inline]
    pub fn normal(self, index: u64) -> f64 {
        let u1 = 1.0 - self.unit(index); // (0, 1]
        let u2 = self.unit2(index, 1);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A unit-mean exponential value for row `index`.
    #[inline]
    pub fn exponential(self, index: u64) -> f64 {
        -(1.0 - self.unit(index)).ln()
    }

    /// A Gamma(`shape`, 1) value for row `index` (`shape > 0`), by Marsaglia and
    /// Tsang's method (2000) on this stream's own draws, so the value is fixed by this
    /// code alone (a library's sampler may change its algorithm in any release).
    /// Below shape 1 it draws Gamma(`shape` + 1) and scales by `U^(1/shape)`.
    pub fn gamma(self, index: u64, shape: f64) -> f64 {
        assert!(
            shape > 0.0 && shape.is_finite(),
            "gamma shape must be positive"
        );
        let draws = self.fork(index);
        let (boosted, mut draw) = if shape < 1.0 {
            let u = 1.0 - draws.unit(0); // (0, 1]
            (u.powf(1.0 / shape), 1)
        } else {
            (1.0, 0)
        };
        let d = if shape < 1.0 { shape + 1.0 } else { shape } - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        // Each attempt takes a normal (two draws) and a uniform; about 1.03 attempts
        // are needed on average, and the loop ends with probability 1.
        loop {
            let x = draws.normal_at(draw);
            let u = 1.0 - draws.unit(draw + 2); // (0, 1]
            draw += 3;
            let t = 1.0 + c * x;
            if t <= 0.0 {
                continue;
            }
            let v = t * t * t;
            let x2 = x * x;
            if u < 1.0 - 0.0331 * x2 * x2 || u.ln() < 0.5 * x2 + d * (1.0 - v + v.ln()) {
                return d * v * boosted;
            }
        }
    }

    /// A Poisson(`mean`) count for row `index`: by inversion of one uniform below a
    /// mean of 30, by the rounded normal approximation above (where it is within a
    /// fraction of a percent in every probability).
    pub fn poisson(self, index: u64, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        if mean >= 30.0 {
            return (mean + mean.sqrt() * self.normal(index)).round().max(0.0) as u64;
        }
        let u = self.unit(index);
        let (mut k, mut p) = (0u64, (-mean).exp());
        let mut cdf = p;
        // The tail past k = 200 has probability below 1e-80 at mean 30.
        while u >= cdf && k < 200 {
            k += 1;
            p *= mean / k as f64;
            cdf += p;
        }
        k
    }

    /// A standard normal from draws `draw` and `draw + 1` of this stream.
    #[inline]
    fn normal_at(self, draw: u64) -> f64 {
        let u1 = 1.0 - self.unit(draw); // (0, 1]
        let u2 = self.unit(draw + 1);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Maps 64 random bits to a uniform `f64` in `[0, 1)`.
#[inline]
pub fn to_unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_name_and_seed() {
        let a = RandomStream::new(42, "order.status");
        let b = RandomStream::new(42, "order.store");
        let c = RandomStream::new(43, "order.status");
        assert_ne!(a.bits(0), b.bits(0));
        assert_ne!(a.bits(0), c.bits(0));
        assert_eq!(a.bits(7), RandomStream::new(42, "order.status").bits(7));
    }

    #[test]
    fn unit_values_are_uniform_enough() {
        let s = RandomStream::new(1, "u");
        let n = 100_000;
        let mean = (0..n).map(|i| s.unit(i)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let below: Vec<u64> = (0..n).map(|i| s.below(i, 10)).collect();
        for k in 0..10 {
            let count = below.iter().filter(|&&v| v == k).count();
            assert!((9_000..11_000).contains(&count), "bucket {k}: {count}");
        }
    }

    #[test]
    fn gamma_has_its_mean_and_variance_at_every_shape() {
        let s = RandomStream::new(5, "g");
        let n = 100_000u64;
        for shape in [0.3, 1.0, 2.5, 40.0, 4_096.0] {
            let xs: Vec<f64> = (0..n).map(|i| s.gamma(i, shape)).collect();
            assert!(
                xs.iter().all(|&x| x > 0.0 && x.is_finite()),
                "shape {shape}"
            );
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
            // Mean and variance are both `shape`; 5 standard errors of each.
            let mean_tolerance = 5.0 * (shape / n as f64).sqrt();
            let var_tolerance = 5.0 * shape * (2.0 / n as f64 + 6.0 / (shape * n as f64)).sqrt();
            assert!(
                (mean - shape).abs() < mean_tolerance,
                "shape {shape}: mean {mean}"
            );
            assert!(
                (var - shape).abs() < var_tolerance,
                "shape {shape}: var {var}"
            );
        }
    }

    #[test]
    fn normal_has_unit_variance() {
        let s = RandomStream::new(9, "n");
        let n = 200_000u64;
        let xs: Vec<f64> = (0..n).map(|i| s.normal(i)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
    }
}
