//! Stream filters: FlateDecode (with PNG and TIFF predictors), ASCIIHexDecode
//! and ASCII85Decode. Output is bounded: a small hostile stream cannot
//! inflate into gigabytes.

use std::io::Read;

use crate::error::{Error, Result};
use crate::pdf::object::{Dict, Object};

fn filter_err(filter: &str, message: impl Into<String>) -> Error {
    Error::Filter {
        filter: filter.to_string(),
        message: message.into(),
    }
}

/// Decodes `data` through the filters named in `dict` (`/Filter`,
/// `/DecodeParms`), producing at most `limit` bytes. The dictionary's
/// values must already be resolved (no references).
pub(crate) fn decode(dict: &Dict, data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let filters: Vec<&Object> = match dict.get("Filter") {
        None | Some(Object::Null) => return bounded_copy(data, limit),
        Some(Object::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
    };
    let parms: Vec<Option<&Dict>> = match dict.get("DecodeParms").or_else(|| dict.get("DP")) {
        Some(Object::Array(a)) => a.iter().map(Object::as_dict).collect(),
        Some(Object::Dict(d)) => vec![Some(d)],
        _ => Vec::new(),
    };
    let mut current: Vec<u8> = Vec::new();
    for (i, filter) in filters.iter().enumerate() {
        let Some(name) = filter.as_name() else {
            return Err(filter_err(filter.kind(), "a filter must be a name"));
        };
        let input: &[u8] = if i == 0 { data } else { &current };
        let parm = parms.get(i).copied().flatten();
        let out = match name {
            b"FlateDecode" | b"Fl" => {
                let raw = inflate(input, limit)?;
                unpredict(raw, parm)?
            }
            b"ASCIIHexDecode" | b"AHx" => ascii_hex(input)?,
            b"ASCII85Decode" | b"A85" => ascii85(input)?,
            other => {
                return Err(filter_err(&String::from_utf8_lossy(other), "not supported"));
            }
        };
        if out.len() > limit {
            return Err(Error::Limit {
                what: "decoded stream size",
                limit: limit as u64,
            });
        }
        current = out;
    }
    Ok(current)
}

fn bounded_copy(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    if data.len() > limit {
        return Err(Error::Limit {
            what: "decoded stream size",
            limit: limit as u64,
        });
    }
    Ok(data.to_vec())
}

/// Inflates zlib data. Damaged data is an error, never a silently
/// shortened result: an embedded CDA must come out whole or not at all.
fn inflate(input: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len().saturating_mul(4).min(limit).min(1 << 24));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut reader = flate2::read::ZlibDecoder::new(input).take(cap);
    reader
        .read_to_end(&mut out)
        .map_err(|e| filter_err("FlateDecode", e.to_string()))?;
    if out.len() > limit {
        return Err(Error::Limit {
            what: "decoded stream size",
            limit: limit as u64,
        });
    }
    Ok(out)
}

fn parm_int(parm: Option<&Dict>, key: &str, default: i64) -> i64 {
    parm.and_then(|p| p.get(key))
        .and_then(Object::as_i64)
        .unwrap_or(default)
}

/// Undoes a PNG (10–15) or TIFF (2) predictor.
fn unpredict(data: Vec<u8>, parm: Option<&Dict>) -> Result<Vec<u8>> {
    let predictor = parm_int(parm, "Predictor", 1);
    if predictor <= 1 {
        return Ok(data);
    }
    let colors = parm_int(parm, "Colors", 1);
    let bits = parm_int(parm, "BitsPerComponent", 8);
    let columns = parm_int(parm, "Columns", 1);
    if !(1..=32).contains(&colors)
        || ![1, 2, 4, 8, 16].contains(&bits)
        || !(1..=1 << 20).contains(&columns)
    {
        return Err(filter_err(
            "FlateDecode",
            "predictor parameters out of range",
        ));
    }
    // All three are small positive numbers after the check above.
    let (colors, bits, columns) = (colors as usize, bits as usize, columns as usize);
    let bpp = (colors * bits).div_ceil(8).max(1);
    let row_len = (colors * bits * columns).div_ceil(8);
    if predictor == 2 {
        if bits != 8 {
            return Err(filter_err(
                "FlateDecode",
                "TIFF predictor supported only at 8 bits per component",
            ));
        }
        let mut out = data;
        for row in out.chunks_mut(row_len) {
            for i in bpp..row.len() {
                row[i] = row[i].wrapping_add(row[i - bpp]);
            }
        }
        return Ok(out);
    }
    // PNG: every row starts with its own filter-type byte.
    let mut out = Vec::with_capacity(data.len());
    let mut prev = vec![0u8; row_len];
    for chunk in data.chunks(row_len + 1) {
        let Some((&kind, row)) = chunk.split_first() else {
            break;
        };
        let mut cur = row.to_vec();
        cur.resize(row_len, 0);
        for i in 0..row_len {
            let left = if i >= bpp { cur[i - bpp] } else { 0 };
            let up = prev[i];
            let up_left = if i >= bpp { prev[i - bpp] } else { 0 };
            cur[i] = match kind {
                0 => cur[i],
                1 => cur[i].wrapping_add(left),
                2 => cur[i].wrapping_add(up),
                3 => cur[i].wrapping_add(((u16::from(left) + u16::from(up)) / 2) as u8),
                4 => cur[i].wrapping_add(paeth(left, up, up_left)),
                other => {
                    return Err(filter_err(
                        "FlateDecode",
                        format!("unknown PNG row filter {other}"),
                    ));
                }
            };
        }
        out.extend_from_slice(&cur[..row.len().min(row_len)]);
        prev = cur;
    }
    Ok(out)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

fn ascii_hex(input: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 2);
    let mut high: Option<u8> = None;
    for &b in input {
        if b == b'>' {
            break;
        }
        if crate::pdf::lexer::is_whitespace(b) {
            continue;
        }
        let v = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => {
                return Err(filter_err(
                    "ASCIIHexDecode",
                    format!("invalid byte 0x{b:02x}"),
                ));
            }
        };
        match high.take() {
            Some(h) => out.push(h << 4 | v),
            None => high = Some(v),
        }
    }
    if let Some(h) = high {
        out.push(h << 4);
    }
    Ok(out)
}

fn ascii85(input: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 4 / 5);
    let mut group = [0u8; 5];
    let mut n = 0usize;
    let body = input.strip_prefix(b"<~").unwrap_or(input);
    for &b in body {
        match b {
            b'~' => break,
            b'z' if n == 0 => out.extend_from_slice(&[0, 0, 0, 0]),
            b'!'..=b'u' => {
                group[n] = b - b'!';
                n += 1;
                if n == 5 {
                    out.extend_from_slice(&a85_word(&group)?.to_be_bytes());
                    n = 0;
                }
            }
            b if crate::pdf::lexer::is_whitespace(b) => {}
            _ => {
                return Err(filter_err(
                    "ASCII85Decode",
                    format!("invalid byte 0x{b:02x}"),
                ));
            }
        }
    }
    if n == 1 {
        return Err(filter_err(
            "ASCII85Decode",
            "a final group of one character",
        ));
    }
    if n > 1 {
        for slot in group.iter_mut().skip(n) {
            *slot = 84;
        }
        let word = a85_word(&group)?.to_be_bytes();
        out.extend_from_slice(&word[..n - 1]);
    }
    Ok(out)
}

fn a85_word(group: &[u8; 5]) -> Result<u32> {
    let mut v: u64 = 0;
    for &d in group {
        v = v * 85 + u64::from(d);
    }
    u32::try_from(v).map_err(|_| filter_err("ASCII85Decode", "group out of range"))
}

thread_local! {
    /// A compressor kept per thread: allocating a fresh one (hundreds of
    /// kilobytes of tables, zeroed) costs more than compressing a CDA.
    static COMPRESSOR: std::cell::RefCell<Option<(u32, flate2::Compress)>> = const { std::cell::RefCell::new(None) };
}

/// Compresses with zlib (FlateDecode).
pub(crate) fn deflate(data: &[u8], level: u32) -> Vec<u8> {
    COMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        let compressor = match slot.as_mut() {
            Some((l, c)) if *l == level => {
                c.reset();
                c
            }
            _ => {
                &mut slot
                    .insert((
                        level,
                        flate2::Compress::new(flate2::Compression::new(level), true),
                    ))
                    .1
            }
        };
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        loop {
            let consumed = usize::try_from(compressor.total_in()).unwrap_or(usize::MAX);
            let input = data.get(consumed..).unwrap_or_default();
            match compressor.compress_vec(input, &mut out, flate2::FlushCompress::Finish) {
                Ok(flate2::Status::StreamEnd) => return out,
                Ok(_) => out.reserve(out.capacity().max(64)),
                // Compressing into a growable buffer does not fail; an empty
                // result would only make the stream unreadable, never wrong.
                Err(_) => return Vec::new(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict_with(filter: &str) -> Dict {
        Dict::new().with("Filter", Object::name(filter))
    }

    #[test]
    fn flate_roundtrip_and_limit() {
        let data = b"hello hello hello hello".repeat(100);
        let z = deflate(&data, 6);
        assert_eq!(
            decode(&dict_with("FlateDecode"), &z, 1 << 20).unwrap(),
            data
        );
        let err = decode(&dict_with("FlateDecode"), &z, 100).unwrap_err();
        assert!(matches!(err, Error::Limit { .. }), "{err}");
        assert!(decode(&dict_with("FlateDecode"), b"not zlib", 1000).is_err());
    }

    #[test]
    fn png_up_predictor() {
        // Two rows of 3 columns, "Up" filter on the second.
        let raw = [0u8, 1, 2, 3, 2, 1, 1, 1];
        let z = deflate(&raw, 6);
        let parms = Dict::new().with("Predictor", 12).with("Columns", 3);
        let d = dict_with("FlateDecode").with("DecodeParms", parms);
        assert_eq!(decode(&d, &z, 1000).unwrap(), vec![1, 2, 3, 2, 3, 4]);
    }

    #[test]
    fn ascii_filters() {
        assert_eq!(
            decode(&dict_with("ASCIIHexDecode"), b"48 656C6C6F>", 100).unwrap(),
            b"Hello"
        );
        assert_eq!(
            decode(&dict_with("ASCII85Decode"), b"<~87cURD]i,\"Ebo7~>", 100).unwrap(),
            b"Hello World"
        );
        assert!(decode(&dict_with("LZWDecode"), b"x", 100).is_err());
    }
}
