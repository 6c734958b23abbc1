//! NumPy's `.npy` format (versions 1.0 to 3.0), for onnxlet's dense tensors: a magic string, a
//! header that is a Python dict literal (`{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }`),
//! then the elements in C order. Little-endian only; Fortran order, big-endian data and object
//! arrays (pickles) are refused with a message saying so. Strings are NumPy's fixed-width
//! `<U` (UTF-32) arrays, whose trailing NULs NumPy strips too.
//! Spec: <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>.

use onnxlet::tensor::{element_count, encode_strings};
use onnxlet::{DType, HostTensor};

const MAGIC: &[u8] = b"\x93NUMPY";

/// Reads a `.npy` file's bytes into a tensor.
pub fn read(bytes: &[u8]) -> Result<HostTensor, String> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or("not a .npy file (it does not start with \\x93NUMPY)")?;
    let (&[major, _minor], rest) = rest.split_first_chunk::<2>().ok_or("truncated header")?;
    let (len, rest) = match major {
        1 => {
            let (len, rest) = rest.split_first_chunk::<2>().ok_or("truncated header")?;
            (u16::from_le_bytes(*len) as usize, rest)
        }
        2 | 3 => {
            let (len, rest) = rest.split_first_chunk::<4>().ok_or("truncated header")?;
            (u32::from_le_bytes(*len) as usize, rest)
        }
        v => {
            return Err(format!(
                ".npy format version {v} is not supported (1 to 3 are)"
            ))
        }
    };
    if rest.len() < len {
        return Err(format!(
            "truncated header: it declares {len} bytes, the file has {}",
            rest.len()
        ));
    }
    let (header, data) = rest.split_at(len);
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text")?;
    let header = Header::parse(header)?;
    if header.fortran_order {
        return Err(
            "Fortran-order arrays are not supported: save a C-order array (numpy.ascontiguousarray)"
                .into(),
        );
    }
    let count = element_count(&header.shape).ok_or("the shape is too large")?;
    let (dtype, width) = parse_descr(&header.descr)?;
    let expected = count.checked_mul(width).ok_or("the shape is too large")?;
    if data.len() != expected {
        return Err(format!(
            "the header declares {} elements of {} ({expected} bytes), the file has {} bytes of data",
            count,
            header.descr,
            data.len()
        ));
    }
    let data = if dtype == DType::String {
        utf32_to_wire(data, width / 4)?
    } else {
        data.to_vec()
    };
    HostTensor::new(dtype, header.shape, data).map_err(|e| e.message)
}

/// Writes a tensor as a version 1.0 `.npy` file (2.0 for headers of 64 KiB or more).
pub fn write(tensor: &HostTensor) -> Result<Vec<u8>, String> {
    let (descr, data) = match tensor.dtype() {
        DType::String => {
            let strings = tensor.strings().unwrap_or_default();
            let width = strings
                .iter()
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
                .max(1);
            let mut data = Vec::with_capacity(strings.len() * width * 4);
            for s in &strings {
                let mut n = 0;
                for c in s.chars() {
                    data.extend_from_slice(&u32::from(c).to_le_bytes());
                    n += 1;
                }
                data.resize(data.len() + (width - n) * 4, 0);
            }
            (format!("<U{width}"), data)
        }
        dtype => (descr_of(dtype).to_string(), tensor.data().to_vec()),
    };
    let shape = match tensor.dims() {
        [d] => format!("({d},)"),
        dims => {
            let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic, version, length, header and its newline padded to a multiple of 64 bytes.
    let fixed = |len_bytes: usize| MAGIC.len() + 2 + len_bytes;
    let len_bytes = if fixed(2) + header.len() + 1 < 65536 {
        2
    } else {
        4
    };
    let padding = (64 - (fixed(len_bytes) + header.len() + 1) % 64) % 64;
    header.extend(std::iter::repeat_n(' ', padding));
    header.push('\n');
    let mut out = Vec::with_capacity(fixed(len_bytes) + header.len() + data.len());
    out.extend_from_slice(MAGIC);
    if len_bytes == 2 {
        out.extend_from_slice(&[1, 0]);
        let len = u16::try_from(header.len()).map_err(|_| "header too long")?;
        out.extend_from_slice(&len.to_le_bytes());
    } else {
        out.extend_from_slice(&[2, 0]);
        let len = u32::try_from(header.len()).map_err(|_| "header too long")?;
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    Ok(out)
}

/// The `descr` NumPy writes for a fixed-width type.
fn descr_of(dtype: DType) -> &'static str {
    match dtype {
        DType::Float32 => "<f4",
        DType::Float64 => "<f8",
        DType::Float16 => "<f2",
        DType::Int8 => "|i1",
        DType::Uint8 => "|u1",
        DType::Int16 => "<i2",
        DType::Uint16 => "<u2",
        DType::Int32 => "<i4",
        DType::Uint32 => "<u4",
        DType::Int64 => "<i8",
        DType::Uint64 => "<u8",
        DType::Bool => "|b1",
        DType::String => "<U1",
    }
}

/// The tensor type and element width of a `descr`.
fn parse_descr(descr: &str) -> Result<(DType, usize), String> {
    let unsupported = || {
        format!(
            "unsupported element type '{descr}' (supported: little-endian float16/32/64, \
             int8/16/32/64, uint8/16/32/64, bool and unicode strings '<U')"
        )
    };
    let (order, kind) = descr.split_at_checked(1).ok_or_else(unsupported)?;
    if order == ">" {
        return Err(format!(
            "big-endian data ('{descr}') is not supported: save little-endian (array.astype(array.dtype.newbyteorder('<')))"
        ));
    }
    if !matches!(order, "<" | "|" | "=") {
        return Err(unsupported());
    }
    if kind == "O" {
        return Err("object arrays (pickled Python objects) are not supported".into());
    }
    if let Some(chars) = kind.strip_prefix('U') {
        let chars: usize = chars.parse().map_err(|_| unsupported())?;
        return Ok((DType::String, chars.checked_mul(4).ok_or_else(unsupported)?));
    }
    let dtype = DType::ALL
        .into_iter()
        .find(|&dt| dt != DType::String && descr_of(dt)[1..] == *kind)
        .ok_or_else(unsupported)?;
    Ok((dtype, dtype.size().unwrap_or(1)))
}

/// NumPy's fixed-width UTF-32 strings (`chars` code points each, NUL-padded) as onnxlet's wire format.
fn utf32_to_wire(data: &[u8], chars: usize) -> Result<Vec<u8>, String> {
    if chars == 0 {
        // '<U0': every element is empty (there are no bytes to split into elements).
        return Err("zero-width strings ('<U0') are not supported".into());
    }
    let mut strings = Vec::with_capacity(data.len() / (chars * 4));
    for (index, element) in data.chunks_exact(chars * 4).enumerate() {
        let mut s = String::with_capacity(chars);
        for unit in element.chunks_exact(4) {
            let code = u32::from_le_bytes([unit[0], unit[1], unit[2], unit[3]]);
            s.push(char::from_u32(code).ok_or_else(|| {
                format!(
                    "string element {index} holds {code:#x}, which is not a Unicode scalar value"
                )
            })?);
        }
        s.truncate(s.trim_end_matches('\0').len());
        strings.push(s);
    }
    Ok(encode_strings(&strings))
}

/// The three keys of a `.npy` header.
#[derive(Debug, PartialEq)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

impl Header {
    /// Parses the dict literal NumPy writes (and any whitespace or key order).
    fn parse(text: &str) -> Result<Header, String> {
        let bad = |what: &str| format!("malformed header ({what}): {}", text.trim_end());
        let mut p = Parser { rest: text };
        p.expect('{').ok_or_else(|| bad("expected '{'"))?;
        let (mut descr, mut fortran_order, mut shape) = (None, None, None);
        while !p.eat('}') {
            let key = p.string().ok_or_else(|| bad("expected a quoted key"))?;
            p.expect(':').ok_or_else(|| bad("expected ':'"))?;
            match key {
                "descr" => descr = Some(p.string().ok_or_else(|| bad("descr"))?.to_string()),
                "fortran_order" => {
                    fortran_order = Some(p.boolean().ok_or_else(|| bad("fortran_order"))?)
                }
                "shape" => shape = Some(p.tuple().ok_or_else(|| bad("shape"))?),
                _ => return Err(bad(&format!("unknown key '{key}'"))),
            }
            if !p.eat(',') {
                p.expect('}').ok_or_else(|| bad("expected ',' or '}'"))?;
                break;
            }
        }
        if !p.rest.trim().is_empty() {
            return Err(bad("text after the dict"));
        }
        Ok(Header {
            descr: descr.ok_or_else(|| bad("no 'descr'"))?,
            fortran_order: fortran_order.ok_or_else(|| bad("no 'fortran_order'"))?,
            shape: shape.ok_or_else(|| bad("no 'shape'"))?,
        })
    }
}

/// A cursor over the few Python literals a header holds.
struct Parser<'a> {
    rest: &'a str,
}

impl<'a> Parser<'a> {
    fn eat(&mut self, c: char) -> bool {
        self.rest = self.rest.trim_start();
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.eat(c).then_some(())
    }

    fn string(&mut self) -> Option<&'a str> {
        self.rest = self.rest.trim_start();
        let quote = self
            .rest
            .chars()
            .next()
            .filter(|q| matches!(q, '\'' | '"'))?;
        let body = &self.rest[1..];
        let end = body.find(quote)?;
        self.rest = &body[end + 1..];
        Some(&body[..end])
    }

    fn boolean(&mut self) -> Option<bool> {
        self.rest = self.rest.trim_start();
        for (word, value) in [("True", true), ("False", false)] {
            if let Some(rest) = self.rest.strip_prefix(word) {
                self.rest = rest;
                return Some(value);
            }
        }
        None
    }

    fn tuple(&mut self) -> Option<Vec<usize>> {
        self.expect('(')?;
        let mut dims = Vec::new();
        while !self.eat(')') {
            self.rest = self.rest.trim_start();
            let digits = self
                .rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(self.rest.len());
            dims.push(self.rest[..digits].parse().ok()?);
            self.rest = &self.rest[digits..];
            if !self.eat(',') {
                self.expect(')')?;
                break;
            }
        }
        Some(dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn round_trips_every_fixed_width_type() {
        for dtype in DType::ALL.into_iter().filter(|&d| d != DType::String) {
            let width = dtype.size().unwrap();
            for dims in [vec![], vec![3], vec![2, 0], vec![2, 3]] {
                let count = element_count(&dims).unwrap();
                let data: Vec<u8> = (0..count * width).map(|i| (i % 2) as u8).collect();
                let t = HostTensor::new(dtype, dims.clone(), data).unwrap();
                let bytes = write(&t).unwrap();
                let header_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
                assert_eq!(header_end % 64, 0, "{dtype} {dims:?}");
                assert_eq!(read(&bytes).unwrap(), t, "{dtype} {dims:?}");
            }
        }
    }

    #[test]
    fn round_trips_strings() {
        let t = HostTensor::from_strings(vec![2, 2], &["", "onnx", "é😀", "a"]).unwrap();
        let bytes = write(&t).unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains("'descr': '<U4'"));
        assert_eq!(read(&bytes).unwrap(), t);
    }

    #[test]
    fn reads_what_numpy_writes() {
        // numpy.save of np.arange(3, dtype='<i4').reshape(1, 3), header padding included.
        let header = "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 3), }          \n";
        let data = [1u8, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0];
        let t = read(&npy(header, &data)).unwrap();
        assert_eq!((t.dtype(), t.dims()), (DType::Int32, &[1usize, 3][..]));
        assert_eq!(t.data(), data);
        let scalar = read(&npy(
            "{'shape': (), 'descr': '<f8', 'fortran_order': False}\n",
            &[0; 8],
        ));
        assert_eq!(scalar.unwrap().dims(), &[] as &[usize]);
    }

    #[test]
    fn refuses_what_it_cannot_read_with_a_reason() {
        let cases: [(Vec<u8>, &str); 9] = [
            (b"PK\x03\x04".to_vec(), "not a .npy file"),
            (MAGIC.to_vec(), "truncated header"),
            (
                npy(
                    "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                    &[0; 8],
                ),
                "Fortran-order",
            ),
            (
                npy(
                    "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                    &[0; 8],
                ),
                "big-endian",
            ),
            (
                npy(
                    "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
                    &[0; 8],
                ),
                "object arrays",
            ),
            (
                npy(
                    "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }",
                    &[0; 16],
                ),
                "unsupported element type '<c8'",
            ),
            (
                npy(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                    &[0; 8],
                ),
                "declares 3 elements",
            ),
            (
                npy(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ",
                    &[0; 8],
                ),
                "malformed header",
            ),
            (
                npy("{'descr': '<f4', 'shape': (2,), }", &[0; 8]),
                "no 'fortran_order'",
            ),
        ];
        for (bytes, expected) in cases {
            let err = read(&bytes).unwrap_err();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }
}
