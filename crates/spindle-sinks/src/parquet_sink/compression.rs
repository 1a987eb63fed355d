//! The codec a Parquet file's pages are compressed with.

use crate::error::{Error, Result};
use parquet::basic::{Compression, ZstdLevel};

/// Zstandard level of [`ParquetCompression::Zstd`]: level 1 writes about twice as fast as
/// the usual 3 and, on Spindle's tables, makes files within a few percent of its size.
const ZSTD_LEVEL: i32 = 1;

/// Compression codec of a [`ParquetSink`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParquetCompression {
    /// Zstandard (default: small files, fast to read).
    #[default]
    Zstd,
    /// Snappy (fastest to write).
    Snappy,
    /// No compression.
    None,
}

impl ParquetCompression {
    /// The codec as the parquet crate names it.
    pub(super) fn parquet(self) -> Compression {
        match self {
            Self::Zstd => Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL).expect("valid level")),
            Self::Snappy => Compression::SNAPPY,
            Self::None => Compression::UNCOMPRESSED,
        }
    }

    /// `page` compressed with this codec, as a Parquet page body.
    pub(super) fn compress(self, page: &[u8]) -> Result<Vec<u8>> {
        let compressed = match self {
            Self::None => Ok(page.to_vec()),
            Self::Snappy => snap::raw::Encoder::new()
                .compress_vec(page)
                .map_err(std::io::Error::other),
            Self::Zstd => ZSTD.with_borrow_mut(|kept| {
                let compressor = match kept {
                    Some(compressor) => compressor,
                    None => kept.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
                };
                compressor.compress(page)
            }),
        };
        compressed.map_err(|e| parquet::errors::ParquetError::External(Box::new(e)).into())
    }
}

thread_local! {
    /// Each thread's Zstandard context, kept from page to page (making one allocates
    /// and clears its tables).
    static ZSTD: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

impl std::str::FromStr for ParquetCompression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "zstd" => Ok(Self::Zstd),
            "snappy" => Ok(Self::Snappy),
            "none" | "uncompressed" => Ok(Self::None),
            other => Err(Error::Invalid {
                field: "compression",
                message: format!("'{other}' is not one of zstd, snappy, none"),
            }),
        }
    }
}
