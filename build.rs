//! Turns Django's list of 20 000 common passwords (`data/common-passwords.txt.gz`, shipped
//! verbatim from Django 4.2) into a compact, binary-searchable blob for `password_policy`.
//!
//! Format: the sorted, de-duplicated words, front-coded in blocks of `BLOCK` words. Every
//! entry is `[shared prefix length: u8][suffix length: u8][suffix bytes]`; the first entry of
//! a block shares nothing, so a block can be decoded on its own. A second file holds the
//! byte offset of every block as little-endian `u32`.

use std::io::Read;
use std::path::PathBuf;

const BLOCK: usize = 16;

fn main() {
    let source = "data/common-passwords.txt.gz";
    println!("cargo:rerun-if-changed={source}");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(source).expect("open common passwords"))
        .read_to_string(&mut text)
        .expect("decompress common passwords");
    // Django: `{x.strip() for x in f.read().decode().splitlines()}`.
    let mut words: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    words.sort_unstable();
    words.dedup();

    let mut blob = Vec::new();
    let mut index = Vec::new();
    let mut previous: &[u8] = &[];
    for (i, word) in words.iter().enumerate() {
        let word = word.as_bytes();
        assert!(word.len() <= 255, "common password longer than 255 bytes");
        let shared = if i % BLOCK == 0 {
            index.extend_from_slice(&u32::try_from(blob.len()).unwrap().to_le_bytes());
            0
        } else {
            word.iter()
                .zip(previous)
                .take_while(|(a, b)| a == b)
                .count()
        };
        blob.push(shared as u8);
        blob.push((word.len() - shared) as u8);
        blob.extend_from_slice(&word[shared..]);
        previous = word;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("common_passwords.bin"), blob).unwrap();
    std::fs::write(out.join("common_passwords.idx"), index).unwrap();
}
