//! A tensor-only unpickler: a small stack machine over the opcodes `torch.save` emits (pickle
//! protocol 2), with an allow-list of globals. It never executes code: allowed globals are
//! interpreted by hand (`OrderedDict`, `_rebuild_tensor_v2`, `_rebuild_parameter`, the typed storage
//! classes); any other global is an error naming it.
//!
//! candle's `pickle` module is not used because it rejects non-contiguous strides, silently skips
//! entries it cannot read, loses the state_dict order and can panic on malformed input.

use std::collections::HashMap;
use std::rc::Rc;

use candle_core::DType;

/// Containers deeper than this are rejected (a state_dict needs about 4 levels); the bound keeps
/// recursive drops of hostile input from overflowing the stack.
const MAX_DEPTH: usize = 64;

/// What can go wrong while unpickling; the caller adds the file name.
#[derive(Debug)]
pub(crate) enum PickleError {
    /// Malformed or truncated pickle, or an opcode/structure outside what torch emits.
    Corrupt(String),
    /// A global outside the allow-list, as `module.name`.
    Global(String),
}

type Result<T> = std::result::Result<T, PickleError>;

fn corrupt<T>(msg: impl Into<String>) -> Result<T> {
    Err(PickleError::Corrupt(msg.into()))
}

/// A storage named by a persistent id: `('storage', torch.FloatStorage, key, location, numel)`.
#[derive(Debug, PartialEq)]
pub(crate) struct StorageRef {
    /// Name of the storage record (`data/<key>` in a zip archive).
    pub key: String,
    /// Element type, from the storage class.
    pub dtype: DType,
    /// Torch class name, for messages.
    pub class: &'static str,
    /// Number of elements.
    pub numel: usize,
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view into a storage.
#[derive(Debug)]
pub(crate) struct TensorRef {
    pub storage: Rc<StorageRef>,
    /// Offset in elements.
    pub offset: usize,
    pub shape: Vec<usize>,
    /// Strides in elements.
    pub stride: Vec<usize>,
}

/// A container with the nesting depth of its deepest element.
#[derive(Debug, Clone)]
pub(crate) struct Container<T> {
    pub items: Vec<T>,
    depth: usize,
}

/// The allow-listed globals.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Global {
    OrderedDict,
    RebuildTensorV2,
    RebuildParameter,
    Storage { dtype: DType, class: &'static str },
}

/// Torch storage classes and the element type they hold (bool is stored as one byte, 0 or 1).
const STORAGES: [(&str, DType); 9] = [
    ("FloatStorage", DType::F32),
    ("DoubleStorage", DType::F64),
    ("HalfStorage", DType::F16),
    ("BFloat16Storage", DType::BF16),
    ("LongStorage", DType::I64),
    ("IntStorage", DType::I32),
    ("ShortStorage", DType::I16),
    ("ByteStorage", DType::U8),
    ("BoolStorage", DType::U8),
];

impl Global {
    fn resolve(module: &str, name: &str) -> Result<Self> {
        match (module, name) {
            ("collections", "OrderedDict") => Ok(Self::OrderedDict),
            ("torch._utils", "_rebuild_tensor_v2") => Ok(Self::RebuildTensorV2),
            ("torch._utils", "_rebuild_parameter") => Ok(Self::RebuildParameter),
            ("torch", _) => STORAGES
                .iter()
                .find(|(class, _)| *class == name)
                .map(|&(class, dtype)| Self::Storage { dtype, class })
                .ok_or_else(|| PickleError::Global(format!("{module}.{name}"))),
            _ => Err(PickleError::Global(format!("{module}.{name}"))),
        }
    }
}

/// An unpickled value. Containers are reference-counted so memo lookups are cheap copies.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Str(Rc<str>),
    Tuple(Rc<Container<Value>>),
    List(Rc<Container<Value>>),
    Dict(Rc<Container<(Value, Value)>>),
    Global(Global),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
}

impl Value {
    /// Short type name for messages (never the contents, which may be huge).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "str",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Global(_) => "global",
            Value::Storage(_) => "storage",
            Value::Tensor(_) => "tensor",
        }
    }

    fn depth(&self) -> usize {
        match self {
            Value::Tuple(c) | Value::List(c) => c.depth,
            Value::Dict(c) => c.depth,
            _ => 0,
        }
    }

    fn tuple(items: Vec<Value>) -> Result<Value> {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        check_depth(depth)?;
        Ok(Value::Tuple(Rc::new(Container { items, depth })))
    }

    fn empty_dict() -> Value {
        Value::Dict(Rc::new(Container {
            items: Vec::new(),
            depth: 1,
        }))
    }

    fn usize(&self, what: &str) -> Result<usize> {
        match self {
            Value::Int(i) => {
                usize::try_from(*i).or_else(|_| corrupt(format!("{what} is negative ({i})")))
            }
            other => corrupt(format!("{what} is a {}, expected an int", other.kind())),
        }
    }

    fn usizes(&self, what: &str) -> Result<Vec<usize>> {
        match self {
            Value::Tuple(c) => c.items.iter().map(|v| v.usize(what)).collect(),
            other => corrupt(format!("{what} is a {}, expected a tuple", other.kind())),
        }
    }
}

fn check_depth(depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return corrupt(format!("containers nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(())
}

/// Unpickles one object from the start of `data`; returns it and the number of bytes read
/// (through the STOP opcode), so that consecutive pickles can be read.
pub(crate) fn unpickle(data: &[u8]) -> Result<(Value, usize)> {
    let mut m = Machine {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let value = m.run()?;
    Ok((value, m.pos))
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    /// Stack lengths at each MARK.
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let bytes = self
            .pos
            .checked_add(n)
            .and_then(|end| self.data.get(self.pos..end));
        match bytes {
            Some(bytes) => {
                self.pos += n;
                Ok(bytes)
            }
            None => corrupt(format!(
                "pickle truncated at byte {} (needed {n} more)",
                self.pos
            )),
        }
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn line(&mut self) -> Result<&'a str> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let Some(len) = rest.iter().position(|&b| b == b'\n') else {
            return corrupt(format!("pickle truncated in a GLOBAL at byte {}", self.pos));
        };
        let line = self.take(len + 1)?;
        std::str::from_utf8(&line[..len]).or_else(|_| corrupt("GLOBAL name is not UTF-8"))
    }

    fn pop(&mut self) -> Result<Value> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return corrupt(format!("pop across a MARK at byte {}", self.pos));
        }
        match self.stack.pop() {
            Some(v) => Ok(v),
            None => corrupt(format!("stack underflow at byte {}", self.pos)),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        match self.marks.pop() {
            Some(m) => Ok(self.stack.split_off(m)),
            None => corrupt(format!("no MARK for the opcode at byte {}", self.pos)),
        }
    }

    fn top(&mut self) -> Result<&mut Value> {
        let pos = self.pos;
        match self.stack.last_mut() {
            Some(v) => Ok(v),
            None => corrupt(format!("stack underflow at byte {pos}")),
        }
    }

    fn push_memo(&mut self, id: u32) -> Result<()> {
        let v = self.top()?.clone();
        self.memo.insert(id, v);
        Ok(())
    }

    fn get_memo(&mut self, id: u32) -> Result<()> {
        match self.memo.get(&id) {
            Some(v) => {
                let v = v.clone();
                self.stack.push(v);
                Ok(())
            }
            None => corrupt(format!("memo entry {id} read before it was written")),
        }
    }

    /// Appends key/value pairs to the dict below them on the stack (SETITEM, SETITEMS).
    fn set_items(&mut self, flat: Vec<Value>) -> Result<()> {
        if !flat.len().is_multiple_of(2) {
            return corrupt("SETITEMS with an odd number of items");
        }
        let Value::Dict(dict) = self.top()? else {
            return corrupt("SETITEM on something that is not a dict");
        };
        let dict = Rc::make_mut(dict);
        let mut it = flat.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            dict.depth = dict.depth.max(1 + k.depth().max(v.depth()));
            dict.items.push((k, v));
        }
        check_depth(dict.depth)
    }

    /// Appends to the list below them on the stack (APPEND, APPENDS).
    fn append(&mut self, values: Vec<Value>) -> Result<()> {
        let Value::List(list) = self.top()? else {
            return corrupt("APPEND on something that is not a list");
        };
        let list = Rc::make_mut(list);
        for v in values {
            list.depth = list.depth.max(1 + v.depth());
            list.items.push(v);
        }
        check_depth(list.depth)
    }

    fn run(&mut self) -> Result<Value> {
        loop {
            let at = self.pos;
            let [op] = self.take_array::<1>()?;
            match op {
                0x80 => {
                    self.take(1)?; // PROTO: version byte; unsupported opcodes are caught below.
                }
                b'.' => return self.pop(), // STOP
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack
                        .push(Value::Global(Global::resolve(module, name)?));
                }
                b'q' => {
                    let [id] = self.take_array::<1>()?;
                    self.push_memo(u32::from(id))?;
                }
                b'r' => {
                    let id = u32::from_le_bytes(self.take_array()?);
                    self.push_memo(id)?;
                }
                b'h' => {
                    let [id] = self.take_array::<1>()?;
                    self.get_memo(u32::from(id))?;
                }
                b'j' => {
                    let id = u32::from_le_bytes(self.take_array()?);
                    self.get_memo(id)?;
                }
                b'(' => self.marks.push(self.stack.len()),
                b')' => self.stack.push(Value::tuple(Vec::new())?),
                b']' => self.stack.push(Value::List(Rc::new(Container {
                    items: Vec::new(),
                    depth: 1,
                }))),
                b'}' => self.stack.push(Value::empty_dict()),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::tuple(items)?);
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = (0..n).map(|_| self.pop()).collect::<Result<Vec<_>>>()?;
                    items.reverse();
                    self.stack.push(Value::tuple(items)?);
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'K' => {
                    let [v] = self.take_array::<1>()?;
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.take_array()?);
                    self.stack.push(Value::Int(i64::from(v)));
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.take_array()?);
                    self.stack.push(Value::Int(i64::from(v)));
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes.
                    let [n] = self.take_array::<1>()?;
                    let bytes = self.take(usize::from(n))?;
                    if n > 8 {
                        return corrupt(format!(
                            "integer of {n} bytes at byte {at} does not fit 64 bits"
                        ));
                    }
                    let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
                    let mut le = [if negative { 0xff } else { 0 }; 8];
                    le[..bytes.len()].copy_from_slice(bytes);
                    self.stack.push(Value::Int(i64::from_le_bytes(le)));
                }
                b'X' => {
                    let len = u32::from_le_bytes(self.take_array()?) as usize;
                    let bytes = self.take(len)?;
                    let s = std::str::from_utf8(bytes)
                        .or_else(|_| corrupt(format!("string at byte {at} is not UTF-8")))?;
                    self.stack.push(Value::Str(Rc::from(s)));
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let flat = self.pop_mark()?;
                    self.set_items(flat)?;
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?;
                }
                b'e' => {
                    let values = self.pop_mark()?;
                    self.append(values)?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.stack.push(Value::Storage(Rc::new(storage_ref(&pid)?)));
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.stack.push(reduce(&callable, &args)?);
                }
                b'b' => {
                    // BUILD: the only target torch emits in a state_dict is the OrderedDict, whose
                    // state holds instance attributes (`_metadata`), not items: drop it.
                    let state = self.pop()?;
                    match (self.top()?, &state) {
                        (Value::Dict(_), Value::Dict(_) | Value::None) => {}
                        (target, _) => {
                            return corrupt(format!("BUILD on a {} at byte {at}", target.kind()))
                        }
                    }
                }
                op => return corrupt(format!("unsupported pickle opcode 0x{op:02x} at byte {at}")),
            }
        }
    }
}

fn args_of<'v>(args: &'v Value, what: &str, lens: &[usize]) -> Result<&'v [Value]> {
    match args {
        Value::Tuple(t) if lens.contains(&t.items.len()) => Ok(&t.items),
        other => corrupt(format!("{what}: unexpected arguments ({})", other.kind())),
    }
}

/// Interprets REDUCE for the allow-listed callables.
fn reduce(callable: &Value, args: &Value) -> Result<Value> {
    let Value::Global(global) = callable else {
        return corrupt(format!("REDUCE on a {}", callable.kind()));
    };
    match global {
        Global::OrderedDict => {
            args_of(args, "OrderedDict", &[0])?;
            Ok(Value::empty_dict())
        }
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        Global::RebuildTensorV2 => {
            let a = args_of(args, "_rebuild_tensor_v2", &[6, 7])?;
            let Value::Storage(storage) = &a[0] else {
                return corrupt(format!("_rebuild_tensor_v2 on a {}", a[0].kind()));
            };
            let shape = a[2].usizes("tensor size")?;
            let stride = a[3].usizes("tensor stride")?;
            if shape.len() != stride.len() {
                return corrupt(format!(
                    "tensor has {} sizes but {} strides",
                    shape.len(),
                    stride.len()
                ));
            }
            Ok(Value::Tensor(Rc::new(TensorRef {
                storage: storage.clone(),
                offset: a[1].usize("storage offset")?,
                shape,
                stride,
            })))
        }
        // (data, requires_grad, backward_hooks)
        Global::RebuildParameter => match args_of(args, "_rebuild_parameter", &[3])? {
            [tensor @ Value::Tensor(_), ..] => Ok(tensor.clone()),
            [other, ..] => corrupt(format!("_rebuild_parameter on a {}", other.kind())),
            [] => corrupt("_rebuild_parameter without arguments"),
        },
        Global::Storage { class, .. } => corrupt(format!("REDUCE on torch.{class}")),
    }
}

/// Decodes a persistent id; the legacy format appends a sixth field (a storage view, always None
/// since torch 1.0).
fn storage_ref(pid: &Value) -> Result<StorageRef> {
    let items = match pid {
        Value::Tuple(t) => &t.items[..],
        other => return corrupt(format!("persistent id is a {}", other.kind())),
    };
    match items {
        [Value::Str(tag), Value::Global(Global::Storage { dtype, class }), Value::Str(key), Value::Str(_location), numel, rest @ ..]
            if &**tag == "storage" && matches!(rest, [] | [Value::None]) =>
        {
            Ok(StorageRef {
                key: key.to_string(),
                dtype: *dtype,
                class,
                numel: numel.usize("storage size")?,
            })
        }
        _ => corrupt("persistent id is not ('storage', <storage class>, key, location, numel)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(data: &[u8]) -> String {
        match unpickle(data) {
            Ok((v, _)) => panic!("expected an error, got a {}", v.kind()),
            Err(PickleError::Corrupt(m)) => m,
            Err(PickleError::Global(g)) => format!("global {g}"),
        }
    }

    #[test]
    fn reads_plain_values() {
        // Python's pickle.dumps({'a': (1, -2, True), 'b': [None]}, protocol=2).
        let data = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01J\xfe\xff\xff\xff\x88\x87q\x02X\x01\x00\x00\x00bq\x03]q\x04Nau.";
        let (v, n) = unpickle(data).unwrap();
        assert_eq!(n, data.len());
        let Value::Dict(d) = v else {
            panic!("not a dict")
        };
        assert_eq!(d.items.len(), 2);
        let (Value::Str(k), Value::Tuple(t)) = &d.items[0] else {
            panic!("bad first item")
        };
        assert_eq!(&**k, "a");
        assert!(matches!(
            t.items[..],
            [Value::Int(1), Value::Int(-2), Value::Bool(true)]
        ));
        let (_, Value::List(l)) = &d.items[1] else {
            panic!("bad second item")
        };
        assert!(matches!(l.items[..], [Value::None]));
    }

    #[test]
    fn long1_is_twos_complement() {
        // LONG1 with 2 bytes 0x00 0x80 is -32768; with 1 byte 0xff is -1; with 0 bytes is 0.
        for (data, want) in [
            (&b"\x8a\x02\x00\x80."[..], -32768),
            (&b"\x8a\x01\xff."[..], -1),
            (&b"\x8a\x00."[..], 0),
        ] {
            assert!(matches!(unpickle(data).unwrap().0, Value::Int(v) if v == want));
        }
        assert!(err(b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.").contains("64 bits"));
    }

    #[test]
    fn refuses_globals_outside_the_allow_list() {
        assert_eq!(
            err(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R."),
            "global os.system"
        );
        assert_eq!(err(b"cbuiltins\neval\n."), "global builtins.eval");
        assert_eq!(err(b"ctorch\nCharStorage\n."), "global torch.CharStorage");
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(err(b"").contains("truncated"));
        assert!(err(b"\x80\x02X\xff\xff\xff\x7fab").contains("truncated"));
        assert!(err(b"t.").contains("MARK"));
        assert!(err(b"h\x05.").contains("memo"));
        assert!(err(b"K\x00K\x01K\x02s.").contains("not a dict"));
        assert!(err(b"(.").contains("across a MARK"));
        assert!(err(b"\x80\x02\xff").contains("opcode 0xff"));
        // 100 nested tuples: beyond the depth bound, refused instead of recursing.
        let mut deep = b"K\x01".to_vec();
        deep.extend(std::iter::repeat_n(0x85, 100));
        deep.push(b'.');
        assert!(err(&deep).contains("nested deeper"));
    }
}
