//! Bodies for tests and benches: [`ChannelBody`] (the emulator's own, re-used), fed by the test
//! as it goes (STR-1, STR-3), and deterministic text and binary payloads of any size (RSP-3,
//! RSP-7, the benches' echoes).

pub use crate::server::{BodyItem, ChannelBody, ItemReceiver};

/// Printable text of `len` bytes with what JSON must escape now and then (quotes, newlines).
pub fn text_body(len: usize) -> String {
    const LINE: &str = "lorem ipsum dolor sit amet, \"consectetur\" adipiscing elit 0123456789\n";
    LINE.chars().cycle().take(len).collect()
}

/// `len` bytes of every value, like compressed or image data; the same on every call.
pub fn binary_body(len: usize) -> Vec<u8> {
    let mut random = XorShift::new(0x9e37_79b9);
    (0..len).map(|_| random.next_u32() as u8).collect()
}

/// A small deterministic generator (Marsaglia's xorshift32): binary bodies, jitter.
#[derive(Debug, Clone)]
pub struct XorShift(u32);

impl XorShift {
    /// A generator from a non-zero seed.
    pub fn new(seed: u32) -> XorShift {
        XorShift(seed)
    }

    /// The next value.
    pub fn next_u32(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}
