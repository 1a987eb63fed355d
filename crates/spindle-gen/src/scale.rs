//! Scale presets and explicit counts.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// Row counts of the three driving tables; every other table's size derives from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Rows of `customer`.
    pub customers: u64,
    /// Rows of `product`.
    pub products: u64,
    /// Rows of `order`.
    pub orders: u64,
}

impl Counts {
    /// Most customers: the plan keeps each one's signup time and order count in memory
    /// (about 20 bytes each while planning: 10 GB at this limit, five times `xxxl`).
    pub const MAX_CUSTOMERS: u64 = 500_000_000;
    /// Most products: the plan keeps each one's price and popularity in memory (about
    /// 40 bytes each: 4 GB at this limit, 200 times `xxxl`).
    pub const MAX_PRODUCTS: u64 = 100_000_000;
    /// Most orders: orders are generated chunk by chunk, so only indexing bounds them.
    pub const MAX_ORDERS: u64 = 100_000_000_000;

    /// Checks that every count is positive and within its limit, so that planning never
    /// asks for more memory than the limits allow.
    pub fn validate(&self) -> Result<()> {
        for (field, value, limit) in [
            ("customers", self.customers, Self::MAX_CUSTOMERS),
            ("products", self.products, Self::MAX_PRODUCTS),
            ("orders", self.orders, Self::MAX_ORDERS),
        ] {
            if value == 0 {
                return Err(Error::Invalid {
                    field,
                    message: "must be at least 1".into(),
                });
            }
            if value > limit {
                return Err(Error::Invalid {
                    field,
                    message: format!(
                        "{} is above the limit: 1 to {} are allowed",
                        crate::report::thousands(value),
                        crate::report::thousands(limit)
                    ),
                });
            }
        }
        Ok(())
    }
}

/// A scale: one of the reference's eight presets, or explicit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// 200 customers, 100 products, 1,000 orders.
    FabricDemo,
    /// 1,000 customers, 500 products, 5,000 orders.
    Small,
    /// 50,000 customers, 5,000 products, 500,000 orders.
    Medium,
    /// 500,000 customers, 25,000 products, 5,000,000 orders.
    Large,
    /// 1,000,000 customers, 50,000 products, 10,000,000 orders.
    Warehouse,
    /// 5,000,000 customers, 100,000 products, 100,000,000 orders.
    Xlarge,
    /// 20,000,000 customers, 200,000 products, 1,000,000,000 orders.
    Xxl,
    /// 100,000,000 customers, 500,000 products, 10,000,000,000 orders.
    Xxxl,
    /// Explicit counts.
    Custom(Counts),
}

impl Scale {
    /// The eight presets, smallest first.
    pub const PRESETS: [Scale; 8] = [
        Scale::FabricDemo,
        Scale::Small,
        Scale::Medium,
        Scale::Large,
        Scale::Warehouse,
        Scale::Xlarge,
        Scale::Xxl,
        Scale::Xxxl,
    ];

    /// The preset's name as the CLI and the reference spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Scale::FabricDemo => "fabric_demo",
            Scale::Small => "small",
            Scale::Medium => "medium",
            Scale::Large => "large",
            Scale::Warehouse => "warehouse",
            Scale::Xlarge => "xlarge",
            Scale::Xxl => "xxl",
            Scale::Xxxl => "xxxl",
            Scale::Custom(_) => "custom",
        }
    }

    /// The driving tables' row counts.
    pub fn counts(&self) -> Counts {
        let (customers, products, orders) = match self {
            Scale::FabricDemo => (200, 100, 1_000),
            Scale::Small => (1_000, 500, 5_000),
            Scale::Medium => (50_000, 5_000, 500_000),
            Scale::Large => (500_000, 25_000, 5_000_000),
            Scale::Warehouse => (1_000_000, 50_000, 10_000_000),
            Scale::Xlarge => (5_000_000, 100_000, 100_000_000),
            Scale::Xxl => (20_000_000, 200_000, 1_000_000_000),
            Scale::Xxxl => (100_000_000, 500_000, 10_000_000_000),
            Scale::Custom(c) => return *c,
        };
        Counts {
            customers,
            products,
            orders,
        }
    }

    /// The allowed scale names, for messages.
    pub fn allowed() -> String {
        let mut names: Vec<&str> = Self::PRESETS.iter().map(Scale::name).collect();
        names.push("custom");
        names.join(", ")
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scale {
    type Err = Error;

    /// Parses a preset name. `custom` needs counts, so it is not accepted here.
    fn from_str(s: &str) -> Result<Self> {
        Self::PRESETS
            .iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .copied()
            .ok_or_else(|| Error::UnknownScale {
                name: s.to_string(),
                allowed: Self::allowed(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_round_trip_and_unknown_names_fail() {
        for p in Scale::PRESETS {
            assert_eq!(p.name().parse::<Scale>().unwrap(), p);
        }
        let err = "huge".parse::<Scale>().unwrap_err().to_string();
        assert!(err.contains("huge") && err.contains("xlarge"), "{err}");
    }

    #[test]
    fn zero_counts_are_rejected() {
        let c = Counts {
            customers: 0,
            products: 1,
            orders: 1,
        };
        assert!(c.validate().unwrap_err().to_string().contains("customers"));
    }
}
