//! The `u8 L, version[L]` prefix that every Deep Lake binary object starts with.

use crate::read::Reader;
use crate::{Error, Result};

/// Reads the version prefix.
pub(crate) fn read_version(r: &mut Reader<'_>, what: &'static str) -> Result<String> {
    let len = r.u8()?;
    let bytes = r.take(usize::from(len))?;
    if !bytes.is_ascii() {
        return Err(Error::corrupt(what, "version string is not ASCII"));
    }
    Ok(bytes.iter().map(|&b| char::from(b)).collect())
}

/// Appends the version prefix, checking it can be written.
pub(crate) fn write_version(out: &mut Vec<u8>, version: &str) -> Result<()> {
    check_version(version)?;
    out.push(version_len_byte(version)?);
    out.extend_from_slice(version.as_bytes());
    Ok(())
}

/// Checks a version string is ASCII and at most 255 bytes long.
pub(crate) fn check_version(version: &str) -> Result<()> {
    if !version.is_ascii() {
        return Err(Error::invalid(format!("version {version:?} is not ASCII")));
    }
    version_len_byte(version).map(|_| ())
}

fn version_len_byte(version: &str) -> Result<u8> {
    u8::try_from(version.len()).map_err(|_| {
        Error::invalid(format!(
            "version string is {} bytes, at most 255 allowed",
            version.len()
        ))
    })
}

/// Whether `version` is older than `major.minor.patch`.
///
/// Each dot-separated component counts by its leading digits (`"7rc1"` is 7). A version with no
/// leading number at all is taken as current, i.e. not older.
pub(crate) fn older_than(version: &str, than: [u64; 3]) -> bool {
    let mut parts = version.split('.').map(leading_number);
    let Some(Some(first)) = parts.next() else {
        return false;
    };
    let mut mine = [first, 0, 0];
    for (slot, part) in mine.iter_mut().skip(1).zip(parts) {
        *slot = part.unwrap_or(0);
    }
    mine < than
}

fn leading_number(part: &str) -> Option<u64> {
    let digits: &str = part
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(part, |(i, _)| part.get(..i).unwrap_or_default());
    if digits.is_empty() {
        return None;
    }
    // Saturate absurdly long numbers instead of failing: they are "very new".
    Some(digits.parse::<u64>().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_versions() {
        assert!(older_than("2.7.5", [2, 7, 6]));
        assert!(older_than("2.6", [2, 7, 6]));
        assert!(older_than("1.99.99", [2, 7, 6]));
        assert!(!older_than("2.7.6", [2, 7, 6]));
        assert!(!older_than("3.9.52", [2, 7, 6]));
        assert!(!older_than("2.10.0", [2, 7, 6]));
        assert!(!older_than("", [2, 7, 6]));
        assert!(!older_than("dev", [2, 7, 6]));
        assert!(older_than("2.7.5rc1", [2, 7, 6]));
    }
}
