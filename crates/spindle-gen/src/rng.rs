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

    /// A standard normal value for row `index`: [`standard_normal`] of the row's bits.
    #[inline]
    pub fn normal(self, index: u64) -> f64 {
        standard_normal(self.bits(index))
    }

    /// A unit-mean exponential value for row `index`: [`standard_exponential`] of the
    /// row's bits.
    #[inline]
    pub fn exponential(self, index: u64) -> f64 {
        standard_exponential(self.bits(index))
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
        // Each attempt takes a normal and a uniform; about 1.03 attempts are needed on
        // average, and the loop ends with probability 1.
        loop {
            let x = draws.normal(draw);
            let u = 1.0 - draws.unit(draw + 1); // (0, 1]
            draw += 2;
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
}

/// A standard normal value from 64 random bits, by the ziggurat method (Marsaglia and
/// Tsang, 2000): the low 8 bits pick one of 256 layers of equal area under the density,
/// the top 53 a position across it, and that position is the value whenever it falls
/// inside the layer's rectangle below the curve, for about 99 values in 100, with no
/// logarithm or cosine. The rest are settled by further draws from a stream keyed by
/// the bits (acceptance under the curve, or the tail past 3.65), so the value is still
/// a function of the bits alone.
#[inline]
pub fn standard_normal(bits: u64) -> f64 {
    NORMAL.sample(bits)
}

/// A unit-mean exponential value from 64 random bits, by the ziggurat method as for
/// [`standard_normal`] (the tail starts past 7.7).
#[inline]
pub fn standard_exponential(bits: u64) -> f64 {
    EXPONENTIAL.sample(bits)
}

/// Which density a [`Ziggurat`] is laid over.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Density {
    /// `exp(-x²/2)` on both sides of 0.
    Normal,
    /// `exp(-x)` for `x >= 0`.
    Exponential,
}

impl Density {
    fn at(self, x: f64) -> f64 {
        match self {
            Self::Normal => (-0.5 * x * x).exp(),
            Self::Exponential => (-x).exp(),
        }
    }

    /// The `x >= 0` where the density is `y`.
    fn inverse(self, y: f64) -> f64 {
        match self {
            Self::Normal => (-2.0 * y.ln()).sqrt(),
            Self::Exponential => -y.ln(),
        }
    }
}

/// A density's ziggurat: its constants, and its layers computed from them on first use.
struct Ziggurat {
    density: Density,
    /// Where the tail starts, for 256 layers.
    r: f64,
    /// Each layer's area.
    area: f64,
    layers: std::sync::OnceLock<Layers>,
}

/// Layer `i` spans `0..x[i]` across and `f[i]..f[i+1]` in height, where `f` is the
/// (unnormalized) density; every layer has the ziggurat's area. `x` falls from `x[0]`
/// (the base layer: a rectangle standing for the base below `f(r)` and the tail past
/// `r`) to `x[256] = 0`.
struct Layers {
    x: [f64; 257],
    f: [f64; 257],
}

/// The standard normal's ziggurat (Marsaglia and Tsang's constants).
static NORMAL: Ziggurat = Ziggurat {
    density: Density::Normal,
    r: 3.654_152_885_361_009,
    area: 0.004_928_673_233_99,
    layers: std::sync::OnceLock::new(),
};

/// The unit exponential's ziggurat (Marsaglia and Tsang's constants).
static EXPONENTIAL: Ziggurat = Ziggurat {
    density: Density::Exponential,
    r: 7.697_117_470_131_487,
    area: 0.003_949_659_822_581_572,
    layers: std::sync::OnceLock::new(),
};

impl Ziggurat {
    fn layers(&self) -> &Layers {
        self.layers.get_or_init(|| {
            // Marsaglia and Tsang's recurrence: each layer's top is where the one
            // below, as wide as its top, reaches the area.
            let d = self.density;
            let mut x = [0.0; 257];
            x[0] = self.area / d.at(self.r);
            x[1] = self.r;
            for i in 2..256 {
                x[i] = d.inverse(self.area / x[i - 1] + d.at(x[i - 1]));
            }
            Layers {
                x,
                f: x.map(|x| d.at(x)),
            }
        })
    }

    /// The value of `bits`, as [`standard_normal`] describes.
    #[inline]
    fn sample(&self, bits: u64) -> f64 {
        let layers = self.layers();
        let (layer, x) = self.position(layers, bits);
        if x.abs() < layers.x[layer + 1] {
            return x;
        }
        self.settle(layers, bits, layer, x)
    }

    /// A layer from the low 8 bits and a position across it from the top 53 (on either
    /// side of 0 for a symmetric density).
    #[inline]
    fn position(&self, layers: &Layers, bits: u64) -> (usize, f64) {
        let layer = (bits & 0xFF) as usize;
        let u = match self.density {
            Density::Normal => 2.0 * to_unit(bits) - 1.0,
            Density::Exponential => to_unit(bits),
        };
        (layer, u * layers.x[layer])
    }

    /// Finishes a value whose first position, `x` in `layer`, fell outside the layer's
    /// rectangle: taken if a uniform height under the layer falls below the curve (or,
    /// from the base layer, a value of the tail), else a new layer and position; each
    /// from the next draw of the stream keyed by `bits`.
    #[cold]
    fn settle(&self, layers: &Layers, bits: u64, mut layer: usize, mut x: f64) -> f64 {
        let more = RandomStream(bits);
        let mut draw = 0;
        let mut next = || {
            draw += 1;
            more.bits(draw - 1)
        };
        let f = &layers.f;
        loop {
            if layer == 0 {
                return self.tail(x, &mut next);
            }
            let height = f[layer] + (f[layer + 1] - f[layer]) * to_unit(next());
            if height < self.density.at(x) {
                return x;
            }
            (layer, x) = self.position(layers, next());
            if x.abs() < layers.x[layer + 1] {
                return x;
            }
        }
    }

    /// A value of the tail past `r`, on the side of `x`.
    fn tail(&self, x: f64, next: &mut impl FnMut() -> u64) -> f64 {
        let mut exponential = || -(1.0 - to_unit(next())).ln();
        match self.density {
            // The exponential forgets: past r, r plus a new exponential value.
            Density::Exponential => self.r + exponential(),
            // Marsaglia (1964).
            Density::Normal => loop {
                let t = exponential() / self.r;
                if 2.0 * exponential() > t * t {
                    return (self.r + t).copysign(x);
                }
            },
        }
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
    fn normal_puts_the_normal_share_beyond_each_quantile() {
        // z with P(X > z) = p, for p from the middle to past the ziggurat's tail (R =
        // 3.65): each side's share of 2 million values within 5 standard errors of p.
        let quantiles = [
            (0.5, 0.0),
            (0.25, 0.674_489_750_196_081_7),
            (0.1, 1.281_551_565_544_600_4),
            (0.025, 1.959_963_984_540_054),
            (0.01, 2.326_347_874_040_840_8),
            (0.001, 3.090_232_306_167_813_5),
            (0.000_1, 3.719_016_485_455_709),
        ];
        let s = RandomStream::new(11, "z");
        let n = 2_000_000u64;
        let xs: Vec<f64> = (0..n).map(|i| s.normal(i)).collect();
        for (p, z) in quantiles {
            assert_share(&xs, p, &format!("X > {z}"), |x| x > z);
            assert_share(&xs, p, &format!("X < -{z}"), |x| x < -z);
        }
        assert!(xs.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn exponential_puts_the_exponential_share_beyond_each_quantile() {
        // P(X > z) = exp(-z), up to past the ziggurat's tail (r = 7.7).
        let s = RandomStream::new(12, "e");
        let n = 2_000_000u64;
        let xs: Vec<f64> = (0..n).map(|i| s.exponential(i)).collect();
        assert!(xs.iter().all(|&x| x >= 0.0 && x.is_finite()));
        for z in [0.1_f64, 0.5, 1.0, 2.0, 4.0, 7.0, 8.0] {
            assert_share(&xs, (-z).exp(), &format!("X > {z}"), |x| x > z);
        }
    }

    /// The share of `xs` for which `holds` is within 5 standard errors of `p`.
    fn assert_share(xs: &[f64], p: f64, what: &str, holds: impl Fn(f64) -> bool) {
        let n = xs.len() as f64;
        let share = xs.iter().filter(|&&x| holds(x)).count() as f64 / n;
        let tolerance = 5.0 * (p * (1.0 - p) / n).sqrt();
        assert!(
            (share - p).abs() < tolerance,
            "P({what}) = {share}, not {p}"
        );
    }

    #[test]
    fn ziggurat_layers_have_equal_areas() {
        for zig in [&NORMAL, &EXPONENTIAL] {
            let z = zig.layers();
            assert_eq!(z.x[1], zig.r);
            assert_eq!(z.x[256], 0.0);
            // The base: a rectangle over the density below f(r) and its tail.
            assert!((z.x[0] * z.f[1] - zig.area).abs() < 1e-15);
            for i in 1..256 {
                assert!(z.x[i + 1] < z.x[i], "{:?} layer {i}", zig.density);
                // The rectangle over layer i, up to the next layer's height.
                let area = z.x[i] * (z.f[i + 1] - z.f[i]);
                assert!(
                    (area - zig.area).abs() < 1e-9 * zig.area,
                    "{:?} layer {i}: {area}",
                    zig.density
                );
            }
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
