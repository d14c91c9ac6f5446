//! The content every fake serves: MD5 as RFC 1321 has it, synthetic bytes that do not
//! depend on how they are read, and checksums that never change.

use super::{Content, Md5, synthetic_byte};

#[test]
fn md5_matches_the_rfc_1321_test_suite() {
    let md5 = |text: &str| {
        let mut md5 = Md5::new();
        md5.update(text.as_bytes());
        hex::encode(md5.finish())
    };
    assert_eq!(md5(""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(md5("abc"), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(md5("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
    assert_eq!(
        md5("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
        "57edf4a22be3c955ac49da2e2107b67a"
    );
    let text = "The quick brown fox jumps over the lazy dog, again and again and again.";
    let mut split = Md5::new();
    for piece in text.as_bytes().chunks(7) {
        split.update(piece);
    }
    assert_eq!(hex::encode(split.finish()), md5(text));
}

#[test]
fn synthetic_content_is_the_same_whatever_the_chunking() {
    let content = Content::synthetic(100_003, 42);
    let whole = content.to_bytes();
    assert_eq!(whole.len(), 100_003);
    assert_eq!(content.read(777, 13), whole.slice(777..790));
    assert_eq!(content.read(100_000, 50), whole.slice(100_000..));
    assert_eq!(synthetic_byte(42, 12_345), whole[12_345]);
    assert_ne!(
        Content::synthetic(64, 1).to_bytes(),
        Content::synthetic(64, 2).to_bytes()
    );
    let mut md5 = Md5::new();
    md5.update(&whole);
    assert_eq!(content.md5_hex(), hex::encode(md5.finish()));
}

#[test]
fn synthetic_content_and_its_checksums_never_change() {
    // Computed independently (Python: the same SplitMix64 stream, hashlib, a port of
    // Microsoft's C# QuickXorHash); benchmarks and recorded results rely on these bytes
    // staying the same.
    let content = Content::synthetic(1_000_003, 7);
    assert_eq!(hex::encode(content.read(0, 8)), "d70d3259e4e1cb63");
    assert_eq!(content.md5_hex(), "bbb0b38fd9b00b5167bc7d1164d232fa");
    assert_eq!(
        content.sha256_hex(),
        "f03d7c7d00df5cab5bd34dd56744ea16027130400f335595e64f132e37fef862"
    );
    assert_eq!(content.quick_xor_base64(), "COLdDCFITvDBmK5vQGagpuSzLT4=");
}
