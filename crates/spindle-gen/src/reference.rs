//! Reference data shipped with the crate: real US ZIP centroids and the product
//! category hierarchy (both under the repository's `data/`).

use arrow_array::{Array, Float64Array, StringArray};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use std::sync::OnceLock;

/// The US ZIP code centroids, column by column, in file order: the Arrow arrays both
/// Retail and the schema engine's `us_zip_locations` dataset read, over buffers laid
/// out at build time and embedded in the program (about 1.8 MiB, none of it on the
/// heap).
#[derive(Debug)]
pub struct ZipCentroids {
    /// Five-digit ZIP code, leading zeros kept.
    pub zip: StringArray,
    /// City name.
    pub city: StringArray,
    /// Two-letter state code.
    pub state: StringArray,
    /// Latitude in degrees.
    pub lat: Float64Array,
    /// Longitude in degrees.
    pub lng: Float64Array,
}

impl ZipCentroids {
    /// Number of ZIP codes.
    pub fn len(&self) -> usize {
        self.zip.len()
    }

    /// Whether there are none (never, for the embedded file).
    pub fn is_empty(&self) -> bool {
        self.zip.is_empty()
    }
}

static CATEGORIES_CSV: &str = include_str!("../data/product_categories.csv");

/// Bytes embedded at an alignment every Arrow buffer type allows (offsets, doubles).
#[repr(C, align(8))]
struct Aligned<T: ?Sized>(T);

/// One buffer of the ZIP centroids as `build.rs` lays them out, read in place.
macro_rules! zip_buffer {
    ($name:literal) => {{
        static BYTES: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(
            env!("OUT_DIR"),
            "/zip_",
            $name,
            ".bin"
        )));
        Buffer::from(bytes::Bytes::from_static(&BYTES.0))
    }};
}

/// The ZIP centroids, as Arrow arrays over the embedded buffers (nothing is parsed or
/// copied; pages are read as the rows are).
pub fn zip_centroids() -> &'static ZipCentroids {
    static CENTROIDS: OnceLock<ZipCentroids> = OnceLock::new();
    CENTROIDS.get_or_init(|| {
        let text = |offsets: Buffer, values: Buffer| {
            let count = offsets.len() / size_of::<i32>();
            let offsets = OffsetBuffer::new(ScalarBuffer::new(offsets, 0, count));
            StringArray::try_new(offsets, values, None).expect("build.rs writes valid text")
        };
        let degrees = |values: Buffer| {
            let count = values.len() / size_of::<f64>();
            Float64Array::new(ScalarBuffer::new(values, 0, count), None)
        };
        ZipCentroids {
            zip: text(zip_buffer!("code_offsets"), zip_buffer!("code_values")),
            city: text(zip_buffer!("city_offsets"), zip_buffer!("city_values")),
            state: text(zip_buffer!("state_offsets"), zip_buffer!("state_values")),
            lat: degrees(zip_buffer!("lat")),
            lng: degrees(zip_buffer!("lng")),
        }
    })
}

/// One product category of the fixed hierarchy.
#[derive(Clone, Debug)]
pub struct Category {
    /// 1-based id, in file order.
    pub id: i64,
    /// Display name.
    pub name: &'static str,
    /// Popularity weight of the category.
    pub weight: f64,
    /// Parent id, `None` for roots.
    pub parent: Option<i64>,
    /// Depth, 1 for roots.
    pub level: i64,
    /// Whether no category names this one as parent.
    pub is_leaf: bool,
}

/// The 50 product categories (8 roots, 3 levels).
pub fn categories() -> &'static [Category] {
    static CATEGORIES: OnceLock<Vec<Category>> = OnceLock::new();
    CATEGORIES.get_or_init(|| {
        let rows: Vec<(&str, f64, &str)> = CATEGORIES_CSV
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|line| {
                // Names contain no commas; the parent is the last field.
                let mut f = line.splitn(3, ',');
                let name = f.next().expect("name");
                let weight = f.next().expect("weight").parse().expect("weight parses");
                (name, weight, f.next().unwrap_or(""))
            })
            .collect();
        let id_of = |name: &str| rows.iter().position(|r| r.0 == name).map(|p| p as i64 + 1);
        let mut out: Vec<Category> = rows
            .iter()
            .enumerate()
            .map(|(i, &(name, weight, parent))| Category {
                id: i as i64 + 1,
                name,
                weight,
                parent: if parent.is_empty() {
                    None
                } else {
                    Some(id_of(parent).expect("parent category exists"))
                },
                level: 1,
                is_leaf: !rows.iter().any(|r| r.2 == name),
            })
            .collect();
        for i in 0..out.len() {
            let mut level = 1;
            let mut parent = out[i].parent;
            while let Some(p) = parent {
                level += 1;
                parent = out[p as usize - 1].parent;
            }
            out[i].level = level;
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_data_is_complete() {
        let z = zip_centroids();
        assert_eq!(z.len(), 40_977);
        assert_eq!(
            z.zip.null_count() + z.city.null_count() + z.state.null_count(),
            0
        );
        let states: std::collections::HashSet<&str> = z.state.iter().flatten().collect();
        assert_eq!(states.len(), 51);
        assert!(z.zip.iter().flatten().all(|zip| zip.len() == 5));
        assert!(z.state.iter().flatten().all(|state| state.len() == 2));
        assert!(z.city.iter().flatten().all(|city| !city.is_empty()));
        assert_eq!(z.lat.len() + z.lng.len(), 2 * z.len());
    }

    /// The arrays over `build.rs`'s buffers hold the file's records, row for row.
    #[test]
    fn zip_arrays_equal_the_file() {
        let z = zip_centroids();
        let csv = include_str!("../data/us_zip_locations.csv");
        let records: Vec<&str> = csv.lines().skip(1).filter(|l| !l.is_empty()).collect();
        assert_eq!(records.len(), z.len());
        for (row, record) in records.iter().enumerate() {
            let at = |f: f64| f.to_string();
            let ours = [
                z.zip.value(row).to_string(),
                z.city.value(row).to_string(),
                z.state.value(row).to_string(),
                at(z.lat.value(row)),
                at(z.lng.value(row)),
            ];
            let file: Vec<String> = record
                .split(',')
                .enumerate()
                .map(|(i, f)| match i {
                    3 | 4 => at(f.parse().unwrap()),
                    _ => f.to_string(),
                })
                .collect();
            assert_eq!(ours.as_slice(), file.as_slice(), "record {row}");
        }
    }

    #[test]
    fn category_hierarchy_has_8_roots_and_3_levels() {
        let c = categories();
        assert_eq!(c.len(), 50);
        assert_eq!(c.iter().filter(|c| c.parent.is_none()).count(), 8);
        assert_eq!(c.iter().map(|c| c.level).max(), Some(3));
        for cat in c {
            if let Some(p) = cat.parent {
                assert_eq!(c[p as usize - 1].level + 1, cat.level);
            }
        }
    }
}
