//! Go's `compress/gzip` writer (over `compress/flate`), byte for byte.
//!
//! Flux's artifacts are gzipped tarballs whose digests users and tools
//! compare: `flux diff artifact` compares a local build's layer digest with
//! the registry's, and the same tree pushed by two CLIs is the same OCI
//! revision only when the gzip streams are equal. DEFLATE allows many
//! encodings of the same data; this one reproduces Go's choices: its hash
//! chains and lazy matching (levels 2–9), its block splitting (every
//! 16,384 tokens), its choice between stored, fixed and dynamic Huffman
//! blocks, its length-limited Huffman codes, and the empty final stored
//! block `Close` writes. Levels 0, 1 and Huffman-only are not implemented
//! (nothing of ours writes them).
//!
//! The encoding depends on how the data is split into `write` calls only
//! through one corner (whether a block that straddles a window shift may be
//! stored); callers that must match Go byte for byte write in the chunks
//! Go's writer sees.
//!
//! ```
//! use std::io::Write;
//! let mut gz = flux_go::gzip::Writer::new(Vec::new(), 6).unwrap();
//! gz.write_all(b"hello, hello, hello\n").unwrap();
//! let bytes = gz.finish().unwrap();
//! assert_eq!(&bytes[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
//! ```

use std::io::{self, Write};

const WINDOW_BITS: usize = 15;
const WINDOW_SIZE: usize = 1 << WINDOW_BITS;
const WINDOW_MASK: usize = WINDOW_SIZE - 1;
const BASE_MATCH_LENGTH: usize = 3;
const MIN_MATCH_LENGTH: usize = 4;
const MAX_MATCH_LENGTH: usize = 258;
const BASE_MATCH_OFFSET: usize = 1;
const MAX_FLATE_BLOCK_TOKENS: usize = 1 << 14;
const MAX_STORE_BLOCK_SIZE: usize = 65535;
const HASH_BITS: u32 = 17;
const HASH_SIZE: usize = 1 << HASH_BITS;
const HASH_MASK: u32 = (1 << HASH_BITS) - 1;
const MAX_HASH_OFFSET: i64 = 1 << 24;
const SKIP_NEVER: usize = i32::MAX as usize;
const HASH_MUL: u32 = 0x1e35a7bd;

const MAX_NUM_LIT: usize = 286;
const OFFSET_CODE_COUNT: usize = 30;
const END_BLOCK_MARKER: usize = 256;
const LENGTH_CODES_START: usize = 257;
const CODEGEN_CODE_COUNT: usize = 19;
const BAD_CODE: u8 = 255;

const LENGTH_EXTRA_BITS: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Match length minus 3 at which each length code starts (RFC 1951 3.2.5).
const LENGTH_BASE: [u32; 29] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128,
    160, 192, 224, 255,
];
const OFFSET_EXTRA_BITS: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// Distance minus 1 at which each distance code starts.
const OFFSET_BASE: [u32; 30] = [
    0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536,
    2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576,
];
const CODEGEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// `(good, lazy, nice, chain, fast_skip_hashing)` of levels 2–9.
fn level_params(level: u32) -> Option<(usize, usize, usize, usize, usize)> {
    Some(match level {
        2 => (4, 0, 16, 8, 5),
        3 => (4, 0, 32, 32, 6),
        4 => (4, 4, 16, 16, SKIP_NEVER),
        5 => (8, 16, 32, 32, SKIP_NEVER),
        6 => (8, 16, 128, 128, SKIP_NEVER),
        7 => (8, 32, 128, 256, SKIP_NEVER),
        8 => (32, 128, 258, 1024, SKIP_NEVER),
        9 => (32, 258, 258, 4096, SKIP_NEVER),
        _ => return None,
    })
}

/// A literal byte, or a match (length − 3, distance − 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Literal(u8),
    Match { xlength: u32, xoffset: u32 },
    End,
}

fn length_code(xlength: u32) -> usize {
    if xlength >= 255 {
        return 28;
    }
    LENGTH_BASE
        .iter()
        .rposition(|&b| b <= xlength)
        .unwrap_or_default()
        .min(27)
}

fn offset_code(xoffset: u32) -> usize {
    OFFSET_BASE
        .iter()
        .rposition(|&b| b <= xoffset)
        .unwrap_or_default()
}

fn reverse_bits(number: u16, length: u8) -> u16 {
    if length == 0 {
        return 0;
    }
    (number << (16 - u32::from(length))).reverse_bits()
}

#[derive(Clone, Copy, Debug, Default)]
struct HCode {
    code: u16,
    len: u16,
}

/// Huffman codes of one alphabet, built as Go builds them.
#[derive(Clone)]
struct Encoder {
    codes: Vec<HCode>,
}

impl Encoder {
    fn new(size: usize) -> Self {
        Self {
            codes: vec![HCode::default(); size],
        }
    }

    fn fixed_literal() -> Self {
        let mut h = Self::new(MAX_NUM_LIT);
        for (ch, code) in h.codes.iter_mut().enumerate() {
            let ch = ch as u16;
            let (bits, size) = match ch {
                0..=143 => (ch + 48, 8),
                144..=255 => (ch + 400 - 144, 9),
                256..=279 => (ch - 256, 7),
                _ => (ch + 192 - 280, 8),
            };
            *code = HCode {
                code: reverse_bits(bits, size),
                len: u16::from(size),
            };
        }
        h
    }

    fn fixed_offset() -> Self {
        let mut h = Self::new(OFFSET_CODE_COUNT);
        for (ch, code) in h.codes.iter_mut().enumerate() {
            *code = HCode {
                code: reverse_bits(ch as u16, 5),
                len: 5,
            };
        }
        h
    }

    fn bit_length(&self, freq: &[i32]) -> i64 {
        freq.iter()
            .zip(&self.codes)
            .filter(|(f, _)| **f != 0)
            .map(|(f, c)| i64::from(*f) * i64::from(c.len))
            .sum()
    }

    /// Code lengths limited to `max_bits` (the package-merge variant of
    /// Go's `bitCounts`), codes assigned by length then symbol.
    fn generate(&mut self, freq: &[i32], max_bits: usize) {
        let mut list: Vec<(u16, i32)> = Vec::with_capacity(freq.len() + 1);
        for (i, &f) in freq.iter().enumerate() {
            if f != 0 {
                list.push((i as u16, f));
            } else {
                self.codes[i].len = 0;
            }
        }
        if list.len() <= 2 {
            for (i, &(literal, _)) in list.iter().enumerate() {
                self.codes[usize::from(literal)] = HCode {
                    code: i as u16,
                    len: 1,
                };
            }
            return;
        }
        list.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        let bit_count = bit_counts(&list, max_bits);
        // assignEncodingAndSize
        let mut code: u16 = 0;
        let mut rest = list.len();
        for (n, &bits) in bit_count.iter().enumerate() {
            code <<= 1;
            if n == 0 || bits == 0 {
                continue;
            }
            let bits = bits as usize;
            let mut chunk: Vec<(u16, i32)> = list[rest - bits..rest].to_vec();
            chunk.sort_by_key(|c| c.0);
            for (literal, _) in chunk {
                self.codes[usize::from(literal)] = HCode {
                    code: reverse_bits(code, n as u8),
                    len: n as u16,
                };
                code = code.wrapping_add(1);
            }
            rest -= bits;
        }
    }
}

/// How many symbols get each code length (index = length), for `list`
/// sorted by frequency (at least three symbols).
fn bit_counts(list: &[(u16, i32)], max_bits: usize) -> Vec<i32> {
    #[derive(Clone, Copy, Default)]
    struct LevelInfo {
        level: usize,
        last_freq: i32,
        next_char_freq: i32,
        next_pair_freq: i32,
        needed: i32,
    }
    let n = list.len();
    let freq = |i: usize| if i < n { list[i].1 } else { i32::MAX };
    let max_bits = max_bits.min(n - 1);
    let mut levels = [LevelInfo::default(); 18];
    let mut leaf_counts = [[0i32; 18]; 18];
    for level in 1..=max_bits {
        levels[level] = LevelInfo {
            level,
            last_freq: freq(1),
            next_char_freq: freq(2),
            next_pair_freq: freq(0).wrapping_add(freq(1)),
            needed: 0,
        };
        leaf_counts[level][level] = 2;
        if level == 1 {
            levels[level].next_pair_freq = i32::MAX;
        }
    }
    levels[max_bits].needed = 2 * n as i32 - 4;
    let mut level = max_bits;
    loop {
        let l = levels[level];
        if l.next_pair_freq == i32::MAX && l.next_char_freq == i32::MAX {
            levels[level].needed = 0;
            levels[level + 1].next_pair_freq = i32::MAX;
            level += 1;
            continue;
        }
        let prev_freq = l.last_freq;
        if l.next_char_freq < l.next_pair_freq {
            let count = leaf_counts[level][level] + 1;
            levels[level].last_freq = l.next_char_freq;
            leaf_counts[level][level] = count;
            levels[level].next_char_freq = freq(count as usize);
        } else {
            levels[level].last_freq = l.next_pair_freq;
            let (lower, upper) = leaf_counts.split_at_mut(level);
            upper[0][..level].copy_from_slice(&lower[level - 1][..level]);
            levels[l.level - 1].needed = 2;
        }
        levels[level].needed -= 1;
        if levels[level].needed == 0 {
            if levels[level].level == max_bits {
                break;
            }
            levels[levels[level].level + 1].next_pair_freq =
                prev_freq.wrapping_add(levels[level].last_freq);
            level += 1;
        } else {
            while levels[level - 1].needed > 0 {
                level -= 1;
            }
        }
    }
    let mut bit_count = vec![0i32; max_bits + 1];
    let counts = &leaf_counts[max_bits];
    for (bits, level) in (1..).zip((1..=max_bits).rev()) {
        bit_count[bits] = counts[level] - counts[level - 1];
    }
    bit_count
}

/// Go's `huffmanBitWriter`: blocks out as LSB-first bits.
struct BitWriter {
    bits: u64,
    nbits: u32,
    out: Vec<u8>,
    literal_freq: Vec<i32>,
    offset_freq: Vec<i32>,
    codegen: Vec<u8>,
    codegen_freq: [i32; CODEGEN_CODE_COUNT],
    literal: Encoder,
    offset: Encoder,
    codegen_encoding: Encoder,
    fixed_literal: Encoder,
    fixed_offset: Encoder,
}

impl BitWriter {
    fn new() -> Self {
        Self {
            bits: 0,
            nbits: 0,
            out: Vec::new(),
            literal_freq: vec![0; MAX_NUM_LIT],
            offset_freq: vec![0; OFFSET_CODE_COUNT],
            codegen: vec![0; MAX_NUM_LIT + OFFSET_CODE_COUNT + 1],
            codegen_freq: [0; CODEGEN_CODE_COUNT],
            literal: Encoder::new(MAX_NUM_LIT),
            offset: Encoder::new(OFFSET_CODE_COUNT),
            codegen_encoding: Encoder::new(CODEGEN_CODE_COUNT),
            fixed_literal: Encoder::fixed_literal(),
            fixed_offset: Encoder::fixed_offset(),
        }
    }

    fn write_bits(&mut self, value: u32, nb: u32) {
        self.bits |= u64::from(value) << self.nbits;
        self.nbits += nb;
        while self.nbits >= 8 {
            self.out.push(self.bits as u8);
            self.bits >>= 8;
            self.nbits -= 8;
        }
    }

    fn write_code(&mut self, c: HCode) {
        self.write_bits(u32::from(c.code), u32::from(c.len));
    }

    /// Pads to a byte boundary.
    fn flush(&mut self) {
        if self.nbits > 0 {
            self.out.push(self.bits as u8);
        }
        self.bits = 0;
        self.nbits = 0;
    }

    fn write_stored_header(&mut self, length: usize, eof: bool) {
        self.write_bits(u32::from(eof), 3);
        self.flush();
        self.write_bits(length as u32 & 0xffff, 16);
        self.write_bits(!(length as u32) & 0xffff, 16);
    }

    fn write_fixed_header(&mut self, eof: bool) {
        self.write_bits(if eof { 3 } else { 2 }, 3);
    }

    fn generate_codegen(&mut self, num_literals: usize, num_offsets: usize, fixed: bool) {
        self.codegen_freq = [0; CODEGEN_CODE_COUNT];
        let (lit, off) = if fixed {
            (&self.fixed_literal, &self.fixed_offset)
        } else {
            (&self.literal, &self.offset)
        };
        for i in 0..num_literals {
            self.codegen[i] = lit.codes[i].len as u8;
        }
        for i in 0..num_offsets {
            self.codegen[num_literals + i] = off.codes[i].len as u8;
        }
        self.codegen[num_literals + num_offsets] = BAD_CODE;
        let codegen = &mut self.codegen;
        let freq = &mut self.codegen_freq;
        let mut size = codegen[0];
        let mut count: i32 = 1;
        let mut out = 0usize;
        let mut input = 1usize;
        while size != BAD_CODE {
            let next = codegen[input];
            input += 1;
            if next == size {
                count += 1;
                continue;
            }
            if size != 0 {
                codegen[out] = size;
                out += 1;
                freq[usize::from(size)] += 1;
                count -= 1;
                while count >= 3 {
                    let n = count.min(6);
                    codegen[out] = 16;
                    codegen[out + 1] = (n - 3) as u8;
                    out += 2;
                    freq[16] += 1;
                    count -= n;
                }
            } else {
                while count >= 11 {
                    let n = count.min(138);
                    codegen[out] = 18;
                    codegen[out + 1] = (n - 11) as u8;
                    out += 2;
                    freq[18] += 1;
                    count -= n;
                }
                if count >= 3 {
                    codegen[out] = 17;
                    codegen[out + 1] = (count - 3) as u8;
                    out += 2;
                    freq[17] += 1;
                    count = 0;
                }
            }
            count -= 1;
            while count >= 0 {
                codegen[out] = size;
                out += 1;
                freq[usize::from(size)] += 1;
                count -= 1;
            }
            size = next;
            count = 1;
        }
        codegen[out] = BAD_CODE;
    }

    fn dynamic_size(&self, extra_bits: i64) -> (i64, usize) {
        let mut num_codegens = CODEGEN_CODE_COUNT;
        while num_codegens > 4 && self.codegen_freq[CODEGEN_ORDER[num_codegens - 1]] == 0 {
            num_codegens -= 1;
        }
        let header = 3
            + 5
            + 5
            + 4
            + 3 * num_codegens as i64
            + self.codegen_encoding.bit_length(&self.codegen_freq)
            + i64::from(self.codegen_freq[16]) * 2
            + i64::from(self.codegen_freq[17]) * 3
            + i64::from(self.codegen_freq[18]) * 7;
        let size = header
            + self.literal.bit_length(&self.literal_freq)
            + self.offset.bit_length(&self.offset_freq)
            + extra_bits;
        (size, num_codegens)
    }

    fn fixed_size(&self, extra_bits: i64) -> i64 {
        3 + self.fixed_literal.bit_length(&self.literal_freq)
            + self.fixed_offset.bit_length(&self.offset_freq)
            + extra_bits
    }

    fn write_dynamic_header(
        &mut self,
        num_literals: usize,
        num_offsets: usize,
        num_codegens: usize,
        eof: bool,
    ) {
        self.write_bits(if eof { 5 } else { 4 }, 3);
        self.write_bits((num_literals - 257) as u32, 5);
        self.write_bits((num_offsets - 1) as u32, 5);
        self.write_bits((num_codegens - 4) as u32, 4);
        for &symbol in CODEGEN_ORDER.iter().take(num_codegens) {
            let len = self.codegen_encoding.codes[symbol].len;
            self.write_bits(u32::from(len), 3);
        }
        let mut i = 0;
        loop {
            let word = self.codegen[i];
            i += 1;
            if word == BAD_CODE {
                break;
            }
            let code = self.codegen_encoding.codes[usize::from(word)];
            self.write_code(code);
            let extra = match word {
                16 => 2,
                17 => 3,
                18 => 7,
                _ => 0,
            };
            if extra > 0 {
                let value = self.codegen[i];
                i += 1;
                self.write_bits(u32::from(value), extra);
            }
        }
    }

    fn index_tokens(&mut self, tokens: &[Token]) -> (usize, usize) {
        self.literal_freq.iter_mut().for_each(|f| *f = 0);
        self.offset_freq.iter_mut().for_each(|f| *f = 0);
        for t in tokens {
            match *t {
                Token::Literal(b) => self.literal_freq[usize::from(b)] += 1,
                Token::End => self.literal_freq[END_BLOCK_MARKER] += 1,
                Token::Match { xlength, xoffset } => {
                    self.literal_freq[LENGTH_CODES_START + length_code(xlength)] += 1;
                    self.offset_freq[offset_code(xoffset)] += 1;
                }
            }
        }
        let mut num_literals = self.literal_freq.len();
        while self.literal_freq[num_literals - 1] == 0 {
            num_literals -= 1;
        }
        let mut num_offsets = self.offset_freq.len();
        while num_offsets > 0 && self.offset_freq[num_offsets - 1] == 0 {
            num_offsets -= 1;
        }
        if num_offsets == 0 {
            self.offset_freq[0] = 1;
            num_offsets = 1;
        }
        self.literal.generate(&self.literal_freq, 15);
        self.offset.generate(&self.offset_freq, 15);
        (num_literals, num_offsets)
    }

    /// One block of `tokens` (the end marker added): fixed, dynamic or —
    /// when `input` (the bytes it covers) is known and smaller — stored.
    fn write_block(&mut self, tokens: &[Token], eof: bool, input: Option<&[u8]>) {
        let mut tokens = tokens.to_vec();
        tokens.push(Token::End);
        let (num_literals, num_offsets) = self.index_tokens(&tokens);
        let stored_size = input
            .filter(|i| i.len() <= MAX_STORE_BLOCK_SIZE)
            .map(|i| (i.len() as i64 + 5) * 8);
        let mut extra_bits = 0i64;
        if stored_size.is_some() {
            for code in LENGTH_CODES_START + 8..num_literals {
                extra_bits += i64::from(self.literal_freq[code])
                    * i64::from(LENGTH_EXTRA_BITS[code - LENGTH_CODES_START]);
            }
            for (freq, extra) in self.offset_freq[..num_offsets]
                .iter()
                .zip(OFFSET_EXTRA_BITS)
                .skip(4)
            {
                extra_bits += i64::from(*freq) * i64::from(extra);
            }
        }
        let mut size = self.fixed_size(extra_bits);
        let mut fixed = true;
        self.generate_codegen(num_literals, num_offsets, false);
        let codegen_freq = self.codegen_freq;
        self.codegen_encoding.generate(&codegen_freq, 7);
        let (dynamic_size, num_codegens) = self.dynamic_size(extra_bits);
        if dynamic_size < size {
            size = dynamic_size;
            fixed = false;
        }
        if let (Some(stored), Some(input)) = (stored_size, input)
            && stored < size
        {
            self.write_stored_header(input.len(), eof);
            self.flush();
            self.out.extend_from_slice(input);
            return;
        }
        if fixed {
            self.write_fixed_header(eof);
        } else {
            self.write_dynamic_header(num_literals, num_offsets, num_codegens, eof);
        }
        let (lit, off) = if fixed {
            (
                self.fixed_literal.codes.clone(),
                self.fixed_offset.codes.clone(),
            )
        } else {
            (self.literal.codes.clone(), self.offset.codes.clone())
        };
        for t in &tokens {
            match *t {
                Token::Literal(b) => self.write_code(lit[usize::from(b)]),
                Token::End => self.write_code(lit[END_BLOCK_MARKER]),
                Token::Match { xlength, xoffset } => {
                    let lc = length_code(xlength);
                    self.write_code(lit[lc + LENGTH_CODES_START]);
                    let extra = LENGTH_EXTRA_BITS[lc];
                    if extra > 0 {
                        self.write_bits(xlength - LENGTH_BASE[lc], u32::from(extra));
                    }
                    let oc = offset_code(xoffset);
                    self.write_code(off[oc]);
                    let extra = OFFSET_EXTRA_BITS[oc];
                    if extra > 0 {
                        self.write_bits(xoffset - OFFSET_BASE[oc], u32::from(extra));
                    }
                }
            }
        }
    }
}

fn hash4(b: &[u8]) -> u32 {
    let v = u32::from(b[3]) | u32::from(b[2]) << 8 | u32::from(b[1]) << 16 | u32::from(b[0]) << 24;
    v.wrapping_mul(HASH_MUL) >> (32 - HASH_BITS)
}

/// Go's `compress/flate` compressor at levels 2–9.
struct Deflater {
    good: usize,
    lazy: usize,
    nice: usize,
    chain: usize,
    fast_skip_hashing: usize,
    window: Vec<u8>,
    window_end: usize,
    index: usize,
    block_start: i64,
    byte_available: bool,
    sync: bool,
    tokens: Vec<Token>,
    length: usize,
    offset: usize,
    max_insert_index: i64,
    chain_head: i64,
    hash_head: Vec<u32>,
    hash_prev: Vec<u32>,
    hash_offset: i64,
    w: BitWriter,
}

impl Deflater {
    fn new(level: u32) -> Option<Self> {
        let (good, lazy, nice, chain, fast_skip_hashing) = level_params(level)?;
        Some(Self {
            good,
            lazy,
            nice,
            chain,
            fast_skip_hashing,
            window: vec![0; 2 * WINDOW_SIZE],
            window_end: 0,
            index: 0,
            block_start: 0,
            byte_available: false,
            sync: false,
            tokens: Vec::with_capacity(MAX_FLATE_BLOCK_TOKENS + 1),
            length: MIN_MATCH_LENGTH - 1,
            offset: 0,
            max_insert_index: 0,
            chain_head: -1,
            hash_head: vec![0; HASH_SIZE],
            hash_prev: vec![0; WINDOW_SIZE],
            hash_offset: 1,
            w: BitWriter::new(),
        })
    }

    fn fill(&mut self, b: &[u8]) -> usize {
        if self.index >= 2 * WINDOW_SIZE - (MIN_MATCH_LENGTH + MAX_MATCH_LENGTH) {
            self.window.copy_within(WINDOW_SIZE..2 * WINDOW_SIZE, 0);
            self.index -= WINDOW_SIZE;
            self.window_end -= WINDOW_SIZE;
            if self.block_start >= WINDOW_SIZE as i64 {
                self.block_start -= WINDOW_SIZE as i64;
            } else {
                self.block_start = i64::from(i32::MAX);
            }
            self.hash_offset += WINDOW_SIZE as i64;
            if self.hash_offset > MAX_HASH_OFFSET {
                let delta = self.hash_offset - 1;
                self.hash_offset -= delta;
                self.chain_head -= delta;
                for v in self.hash_prev.iter_mut().chain(self.hash_head.iter_mut()) {
                    *v = if i64::from(*v) > delta {
                        (i64::from(*v) - delta) as u32
                    } else {
                        0
                    };
                }
            }
        }
        let n = b.len().min(self.window.len() - self.window_end);
        self.window[self.window_end..self.window_end + n].copy_from_slice(&b[..n]);
        self.window_end += n;
        n
    }

    fn write_block(&mut self, index: usize) {
        if index == 0 {
            // Go drops the tokens of a block ending at 0 (never reached).
            self.tokens.clear();
            return;
        }
        let tokens = std::mem::take(&mut self.tokens);
        let input = (self.block_start <= index as i64)
            .then(|| self.window[self.block_start as usize..index].to_vec());
        self.block_start = index as i64;
        self.w.write_block(&tokens, false, input.as_deref());
        self.tokens = tokens;
        self.tokens.clear();
    }

    fn find_match(
        &self,
        pos: usize,
        prev_head: i64,
        prev_length: usize,
        lookahead: usize,
    ) -> Option<(usize, usize)> {
        let min_match_look = MAX_MATCH_LENGTH.min(lookahead);
        let win = &self.window[..pos + min_match_look];
        let nice = self.nice.min(win.len() - pos);
        let mut tries = self.chain;
        let mut length = prev_length;
        if length >= self.good {
            tries >>= 2;
        }
        let mut w_end = win[pos + length];
        let min_index = pos as i64 - WINDOW_SIZE as i64;
        let mut found = None;
        let mut i = prev_head;
        while tries > 0 {
            let iu = i as usize;
            if w_end == win[iu + length] {
                let n = win[iu..iu + min_match_look]
                    .iter()
                    .zip(&win[pos..pos + min_match_look])
                    .take_while(|(a, b)| a == b)
                    .count();
                if n > length && (n > MIN_MATCH_LENGTH || pos - iu <= 4096) {
                    length = n;
                    found = Some((n, pos - iu));
                    if n >= nice {
                        break;
                    }
                    w_end = win[pos + n];
                }
            }
            if i == min_index {
                break;
            }
            i = i64::from(self.hash_prev[iu & WINDOW_MASK]) - self.hash_offset;
            if i < min_index || i < 0 {
                break;
            }
            tries -= 1;
        }
        found
    }

    fn insert_hash(&mut self, index: usize) {
        let hash = hash4(&self.window[index..index + MIN_MATCH_LENGTH]);
        let hh = &mut self.hash_head[(hash & HASH_MASK) as usize];
        self.hash_prev[index & WINDOW_MASK] = *hh;
        *hh = (index as i64 + self.hash_offset) as u32;
    }

    fn deflate(&mut self) {
        if self.window_end - self.index < MIN_MATCH_LENGTH + MAX_MATCH_LENGTH && !self.sync {
            return;
        }
        self.max_insert_index = self.window_end as i64 - (MIN_MATCH_LENGTH as i64 - 1);
        loop {
            let lookahead = self.window_end - self.index;
            if lookahead < MIN_MATCH_LENGTH + MAX_MATCH_LENGTH {
                if !self.sync {
                    return;
                }
                if lookahead == 0 {
                    if self.byte_available {
                        let b = self.window[self.index - 1];
                        self.tokens.push(Token::Literal(b));
                        self.byte_available = false;
                    }
                    if !self.tokens.is_empty() {
                        self.write_block(self.index);
                    }
                    return;
                }
            }
            if (self.index as i64) < self.max_insert_index {
                let hash = hash4(&self.window[self.index..self.index + MIN_MATCH_LENGTH]);
                let hh = &mut self.hash_head[(hash & HASH_MASK) as usize];
                self.chain_head = i64::from(*hh);
                self.hash_prev[self.index & WINDOW_MASK] = self.chain_head as u32;
                *hh = (self.index as i64 + self.hash_offset) as u32;
            }
            let prev_length = self.length;
            let prev_offset = self.offset;
            self.length = MIN_MATCH_LENGTH - 1;
            self.offset = 0;
            let min_index = (self.index as i64 - WINDOW_SIZE as i64).max(0);
            let skip_never = self.fast_skip_hashing == SKIP_NEVER;
            if self.chain_head - self.hash_offset >= min_index
                && (!skip_never && lookahead > MIN_MATCH_LENGTH - 1
                    || skip_never && lookahead > prev_length && prev_length < self.lazy)
                && let Some((length, offset)) = self.find_match(
                    self.index,
                    self.chain_head - self.hash_offset,
                    MIN_MATCH_LENGTH - 1,
                    lookahead,
                )
            {
                self.length = length;
                self.offset = offset;
            }
            if !skip_never && self.length >= MIN_MATCH_LENGTH
                || skip_never && prev_length >= MIN_MATCH_LENGTH && self.length <= prev_length
            {
                let (length, offset) = if skip_never {
                    (prev_length, prev_offset)
                } else {
                    (self.length, self.offset)
                };
                self.tokens.push(Token::Match {
                    xlength: (length - BASE_MATCH_LENGTH) as u32,
                    xoffset: (offset - BASE_MATCH_OFFSET) as u32,
                });
                if self.length <= self.fast_skip_hashing {
                    let new_index = if skip_never {
                        self.index + prev_length - 1
                    } else {
                        self.index + self.length
                    };
                    let mut index = self.index + 1;
                    while index < new_index {
                        if (index as i64) < self.max_insert_index {
                            self.insert_hash(index);
                        }
                        index += 1;
                    }
                    self.index = index;
                    if skip_never {
                        self.byte_available = false;
                        self.length = MIN_MATCH_LENGTH - 1;
                    }
                } else {
                    self.index += self.length;
                }
                if self.tokens.len() == MAX_FLATE_BLOCK_TOKENS {
                    self.write_block(self.index);
                }
            } else {
                if !skip_never || self.byte_available {
                    let i = if skip_never {
                        self.index - 1
                    } else {
                        self.index
                    };
                    self.tokens.push(Token::Literal(self.window[i]));
                    if self.tokens.len() == MAX_FLATE_BLOCK_TOKENS {
                        self.write_block(i + 1);
                    }
                }
                self.index += 1;
                if skip_never {
                    self.byte_available = true;
                }
            }
        }
    }

    fn write(&mut self, mut b: &[u8]) {
        while !b.is_empty() {
            self.deflate();
            let n = self.fill(b);
            b = &b[n..];
        }
    }

    fn close(&mut self) {
        self.sync = true;
        self.deflate();
        self.w.write_stored_header(0, true);
        self.w.flush();
    }
}

/// A gzip stream as Go's `gzip.NewWriterLevel` writes it: no name,
/// modification time zero, OS "unknown", and the extra field and comment
/// of [`Writer::with_header`] (none by default).
pub struct Writer<W: Write> {
    inner: W,
    level: u32,
    deflater: Deflater,
    crc: Crc32,
    size: u32,
    header_written: bool,
    extra: Option<Vec<u8>>,
    comment: Option<String>,
}

impl<W: Write> Writer<W> {
    /// A writer at `level` (2–9; Go's default, −1, is 6). `None` for the
    /// levels not implemented.
    pub fn new(inner: W, level: i32) -> Option<Self> {
        let level = if level == -1 {
            6
        } else {
            u32::try_from(level).ok()?
        };
        Some(Self {
            inner,
            level,
            deflater: Deflater::new(level)?,
            crc: Crc32::new(),
            size: 0,
            header_written: false,
            extra: None,
            comment: None,
        })
    }

    /// Sets the header's `Extra` field and `Comment` (Latin-1 in Go:
    /// characters above U+00FF are refused when the header is written),
    /// as Helm's chart archives carry them.
    pub fn with_header(mut self, extra: Option<&[u8]>, comment: Option<&str>) -> Self {
        self.extra = extra.map(<[u8]>::to_vec);
        self.comment = comment.map(str::to_string);
        self
    }

    fn header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.header_written = true;
            let xfl = match self.level {
                9 => 2,
                1 => 4,
                _ => 0,
            };
            let mut flags = 0u8;
            if self.extra.is_some() {
                flags |= 4;
            }
            if self.comment.is_some() {
                flags |= 16;
            }
            self.inner
                .write_all(&[0x1f, 0x8b, 8, flags, 0, 0, 0, 0, xfl, 0xff])?;
            if let Some(extra) = &self.extra {
                let len = u16::try_from(extra.len()).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "gzip.Write: Extra data is too large",
                    )
                })?;
                self.inner.write_all(&len.to_le_bytes())?;
                self.inner.write_all(extra)?;
            }
            if let Some(comment) = &self.comment {
                let mut latin1 = Vec::with_capacity(comment.len() + 1);
                for c in comment.chars() {
                    let b = u8::try_from(u32::from(c)).map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "gzip: non-Latin-1 header string",
                        )
                    })?;
                    if b == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "gzip: non-Latin-1 header string",
                        ));
                    }
                    latin1.push(b);
                }
                latin1.push(0);
                self.inner.write_all(&latin1)?;
            }
        }
        Ok(())
    }

    fn drain(&mut self) -> io::Result<()> {
        if !self.deflater.w.out.is_empty() {
            self.inner.write_all(&self.deflater.w.out)?;
            self.deflater.w.out.clear();
        }
        Ok(())
    }

    /// Ends the stream (the final empty block and the trailer) and returns
    /// the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.header()?;
        self.deflater.close();
        self.drain()?;
        let crc = self.crc.value();
        self.inner.write_all(&crc.to_le_bytes())?;
        self.inner.write_all(&self.size.to_le_bytes())?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Writer<W> {
    /// One Go `Write` call: the split of the data into calls is part of
    /// what decides the encoding (see the module docs).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.header()?;
        self.crc.update(buf);
        self.size = self.size.wrapping_add(buf.len() as u32);
        self.deflater.write(buf);
        self.drain()?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// CRC-32 (IEEE), as gzip's trailer holds it.
struct Crc32 {
    table: [u32; 256],
    value: u32,
}

impl Crc32 {
    fn new() -> Self {
        let mut table = [0u32; 256];
        for (i, entry) in table.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *entry = c;
        }
        Self {
            table,
            value: 0xffff_ffff,
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.value =
                self.table[((self.value ^ u32::from(b)) & 0xff) as usize] ^ (self.value >> 8);
        }
    }

    fn value(&self) -> u32 {
        !self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_rfc_1951() {
        assert_eq!(length_code(0), 0);
        assert_eq!(length_code(8), 8);
        assert_eq!(length_code(9), 8);
        assert_eq!(length_code(254), 27);
        assert_eq!(length_code(255), 28);
        assert_eq!(offset_code(0), 0);
        assert_eq!(offset_code(4), 4);
        assert_eq!(offset_code(5), 4);
        assert_eq!(offset_code(32767), 29);
        let mut crc = Crc32::new();
        crc.update(b"123456789");
        assert_eq!(crc.value(), 0xcbf4_3926);
    }
}
