//! TFRecord framing, the container format of TensorBoard event files.
//!
//! Each record is
//!
//! ```text
//! u64 LE  length of data
//! u32 LE  masked CRC-32C of the 8 length bytes
//! [u8]    data
//! u32 LE  masked CRC-32C of data
//! ```
//!
//! The CRC is "masked" (rotated and offset) because TensorFlow found that
//! computing the CRC of a string that itself contains CRCs is error-prone.

#[cfg(feature = "testing")]
use std::fs;
#[cfg(feature = "testing")]
use std::path::Path;

#[cfg(feature = "testing")]
use crate::sink::SinkError;

/// The constant TensorFlow adds when masking a CRC.
const MASK_DELTA: u32 = 0xa282_ead8;

/// Bytes of framing around each record's data.
const HEADER_BYTES: usize = 12;
const FOOTER_BYTES: usize = 4;

/// TensorFlow's masked CRC-32C of `data`.
///
/// ```
/// use nvitop::testing::tensorboard::{frame_record, masked_crc32c, parse_records};
/// assert_eq!(masked_crc32c(b""), 0xa282_ead8); // CRC-32C of nothing is 0, plus the mask
/// assert_ne!(masked_crc32c(b"a"), masked_crc32c(b"b"));
/// ```
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Appends one framed record holding `data` to `out`.
///
/// ```
/// use nvitop::testing::tensorboard::{frame_record, masked_crc32c, parse_records};
/// let mut out = Vec::new();
/// frame_record(b"event", &mut out);
/// assert_eq!(out.len(), 8 + 4 + 5 + 4); // length, its CRC, data, data CRC
/// assert_eq!(&out[..8], 5_u64.to_le_bytes());
/// assert_eq!(parse_records(&out).unwrap(), [b"event".as_slice()]);
/// ```
pub fn frame_record(data: &[u8], out: &mut Vec<u8>) {
    let length = (data.len() as u64).to_le_bytes();
    out.reserve(HEADER_BYTES + data.len() + FOOTER_BYTES);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
}

/// Where and why a buffer of records stops being valid.
///
/// ```
/// use nvitop::testing::tensorboard::{frame_record, masked_crc32c, parse_records};
/// let mut out = Vec::new();
/// frame_record(b"event", &mut out);
/// out.truncate(out.len() - 2); // a write cut short
/// let bad = parse_records(&out).unwrap_err();
/// assert_eq!(bad.offset, 0);
/// assert_eq!(bad.reason, "truncated record footer");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg(feature = "testing")]
pub struct BadRecord {
    /// Byte offset of the start of the first bad record.
    pub offset: u64,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Splits `bytes` into record payloads, checking both CRCs of every record.
///
/// ```
/// use nvitop::testing::tensorboard::{frame_record, parse_records};
///
/// let mut file = Vec::new();
/// frame_record(b"hello", &mut file);
/// frame_record(b"world", &mut file);
/// assert_eq!(parse_records(&file)?, [b"hello".as_slice(), b"world".as_slice()]);
///
/// file[21] ^= 1; // damage the second record's length (it starts at 12 + 5 + 4)
/// assert_eq!(parse_records(&file).unwrap_err().offset, 21);
/// # Ok::<(), nvitop::testing::tensorboard::BadRecord>(())
/// ```
#[cfg(feature = "testing")]
pub fn parse_records(bytes: &[u8]) -> Result<Vec<&[u8]>, BadRecord> {
    let mut records = Vec::new();
    let mut pos = 0_usize;
    while pos < bytes.len() {
        let bad = |reason| BadRecord {
            offset: pos as u64,
            reason,
        };
        let rest = &bytes[pos..];
        let (Some(length), Some(length_crc)) = (rest.get(..8), rest.get(8..12)) else {
            return Err(bad("truncated record header"));
        };
        if masked_crc32c(length) != le_u32(length_crc) {
            return Err(bad("length CRC mismatch"));
        }
        let mut len8 = [0_u8; 8];
        len8.copy_from_slice(length);
        let data_end = usize::try_from(u64::from_le_bytes(len8))
            .ok()
            .and_then(|len| len.checked_add(HEADER_BYTES))
            .filter(|&end| end <= rest.len());
        let Some(data_end) = data_end else {
            return Err(bad("truncated record data"));
        };
        let data = &rest[HEADER_BYTES..data_end];
        let Some(data_crc) = rest.get(data_end..data_end + FOOTER_BYTES) else {
            return Err(bad("truncated record footer"));
        };
        if masked_crc32c(data) != le_u32(data_crc) {
            return Err(bad("data CRC mismatch"));
        }
        records.push(data);
        pos += data_end + FOOTER_BYTES;
    }
    Ok(records)
}

/// Reads every record of the TFRecord file at `path`, checking both CRCs of
/// each; the first bad or cut-short record is reported as
/// [`SinkError::Corrupt`] with its byte offset.
///
/// ```
/// use nvitop::testing::tensorboard::{frame_record, read_records};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("records");
/// let mut bytes = Vec::new();
/// frame_record(b"one", &mut bytes);
/// frame_record(b"two", &mut bytes);
/// std::fs::write(&path, &bytes).unwrap();
/// assert_eq!(read_records(&path).unwrap(), [b"one".to_vec(), b"two".to_vec()]);
/// std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
/// assert!(read_records(&path).is_err()); // corrupt: an error naming the file and offset
/// ```
#[cfg(feature = "testing")]
pub fn read_records(path: impl AsRef<Path>) -> Result<Vec<Vec<u8>>, SinkError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| SinkError::io("read", path, e))?;
    parse_records(&bytes)
        .map(|records| records.into_iter().map(<[u8]>::to_vec).collect())
        .map_err(|bad| SinkError::Corrupt {
            path: path.to_path_buf(),
            offset: bad.offset,
            reason: bad.reason.to_owned(),
        })
}

#[cfg(feature = "testing")]
fn le_u32(bytes: &[u8]) -> u32 {
    let mut b = [0_u8; 4];
    b.copy_from_slice(bytes);
    u32::from_le_bytes(b)
}

#[cfg(feature = "testing")]
impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte offset {}", self.reason, self.offset)
    }
}

#[cfg(feature = "testing")]
impl std::error::Error for BadRecord {}
