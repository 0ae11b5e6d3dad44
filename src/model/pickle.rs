//! A checkpoint's module objects, as far as the converter needs them: which class each
//! submodule is (`SiLU` or `Identity`, `OBB` or `OBB26`) and its plain attributes (SPPF's
//! `n` and `add`). burn's `pytorch-reader` turns a pickled module into its `state_dict()`
//! and keeps no class names, and the tensors alone cannot tell an activation, so this reads
//! `data.pkl` of the `torch.save` zip with a small pickle machine of its own: it builds the
//! object graph (classes stay names, tensors stay opaque, nothing is imported or called) and
//! answers lookups by dotted module path (`model.9.cv1.act`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use crate::{Error, Result};

/// Largest `data.pkl` read (an ultralytics checkpoint's is ~200 KB; tensors live elsewhere).
const MAX_PICKLE_BYTES: u64 = 64 << 20;

/// A value of the pickle's object graph.
#[derive(Clone, Debug)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Str(Rc<str>),
    List(Rc<RefCell<Vec<Value>>>),
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    /// A class or function reference: `module.name`.
    Global(Rc<str>),
    /// An instance: its class and the state `BUILD` gave it (its `__dict__`).
    Object(Rc<RefCell<Object>>),
    /// Floats, tuples, bytes, tensors, storages, sets: present, not interpreted (the lookups
    /// need none of them).
    Opaque,
    /// The `MARK` on the stack.
    Mark,
}

#[derive(Debug)]
struct Object {
    class: Rc<str>,
    state: Value,
}

impl Value {
    /// `self` if it is a dict other than `d`.
    fn filter_dict(self, d: &Rc<RefCell<Vec<(Value, Value)>>>) -> Option<Value> {
        match &self {
            Value::Dict(other) if !Rc::ptr_eq(other, d) => Some(self),
            _ => None,
        }
    }

    fn object(class: Rc<str>) -> Value {
        Value::Object(Rc::new(RefCell::new(Object { class, state: Value::None })))
    }

    /// The entry `key` of a dict, or of an object's `__dict__`.
    fn get(&self, key: &str) -> Option<Value> {
        match self {
            Value::Dict(items) => {
                items.borrow().iter().find(|(k, _)| matches!(k, Value::Str(s) if &**s == key)).map(|(_, v)| v.clone())
            }
            // Only a dict state is looked into (an object's state could be itself).
            Value::Object(o) => match &o.borrow().state {
                state @ Value::Dict(_) => state.get(key),
                _ => None,
            },
            _ => None,
        }
    }
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::ModelLoad(format!("the checkpoint's pickle cannot be read: {what}"))
}

/// The module objects of a checkpoint.
#[derive(Debug)]
pub struct Modules {
    root: Value,
}

impl Modules {
    /// Read `data.pkl` from a `torch.save` zip file.
    pub fn read(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
        let mut zip = zip::ZipArchive::new(file)
            .map_err(|e| Error::ModelLoad(format!("{}: not a torch.save zip file: {e}", path.display())))?;
        let name = zip
            .file_names()
            .filter_map(|n| n.ok().map(|n| n.into_owned()))
            .find(|n| n.ends_with("/data.pkl") || n == "data.pkl")
            .ok_or_else(|| Error::ModelLoad(format!("{}: no data.pkl in the zip", path.display())))?;
        let entry = zip.by_name(&name).map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
        let mut bytes = Vec::new();
        entry
            .take(MAX_PICKLE_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::ModelLoad(format!("{}: {e}", path.display())))?;
        Self::parse(&bytes)
    }

    /// Run the pickle in `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        Ok(Modules { root: Machine::default().run(bytes)? })
    }

    /// The object at `path`: a top-level key (`model`), then submodule names through each
    /// module's `_modules`.
    fn at(&self, path: &str) -> Option<Value> {
        let mut parts = path.split('.');
        let mut v = self.root.get(parts.next()?)?;
        for part in parts {
            v = v.get("_modules")?.get(part)?;
        }
        Some(v)
    }

    /// The class (`module.Name`) of the object at `path`.
    pub fn class(&self, path: &str) -> Option<String> {
        match self.at(path)? {
            Value::Object(o) => Some(o.borrow().class.to_string()),
            _ => None,
        }
    }

    /// The class name without its module (`SiLU`), of the object at `path`.
    pub fn class_name(&self, path: &str) -> Option<String> {
        self.class(path).map(|c| c.rsplit('.').next().unwrap_or_default().to_owned())
    }

    /// An integer or boolean attribute of the object at `path`.
    pub fn int(&self, path: &str, attribute: &str) -> Option<i64> {
        match self.at(path)?.get(attribute)? {
            Value::Int(v) => Some(v),
            Value::Bool(b) => Some(b.into()),
            _ => None,
        }
    }

    /// A string attribute of the object at `path`.
    pub fn string(&self, path: &str, attribute: &str) -> Option<String> {
        match self.at(path)?.get(attribute)? {
            Value::Str(s) => Some(s.to_string()),
            _ => None,
        }
    }

    /// A `{int: str}` attribute (ultralytics' `names`) of the object at `path`, in key order.
    pub fn names(&self, path: &str, attribute: &str) -> Option<Vec<String>> {
        let Value::Dict(items) = self.at(path)?.get(attribute)? else { return None };
        let mut pairs: Vec<(i64, String)> = items
            .borrow()
            .iter()
            .map(|(k, v)| match (k, v) {
                (Value::Int(k), Value::Str(v)) => Some((*k, v.to_string())),
                _ => None,
            })
            .collect::<Option<_>>()?;
        pairs.sort_by_key(|p| p.0);
        pairs.iter().enumerate().all(|(i, p)| p.0 == i as i64).then(|| pairs.into_iter().map(|p| p.1).collect())
    }
}

/// The pickle virtual machine: a stack, the marks and the memo.
#[derive(Default)]
struct Machine {
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
}

/// Reads the opcode arguments.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| bad("truncated"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn line(&mut self) -> Result<&'a str> {
        let rest = &self.bytes[self.at..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("unterminated line"))?;
        self.at += end + 1;
        std::str::from_utf8(&rest[..end]).map_err(|_| bad("a line that is not UTF-8"))
    }

    fn text(&mut self, n: usize) -> Result<Value> {
        let s = std::str::from_utf8(self.take(n)?).map_err(|_| bad("a string that is not UTF-8"))?;
        Ok(Value::Str(s.into()))
    }
}

/// Little-endian two's-complement integer of `bytes` (`LONG1`/`LONG4`), if it fits an i64.
fn long(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Int(0);
    }
    if bytes.len() > 8 {
        return Value::Opaque;
    }
    let negative = bytes[bytes.len() - 1] & 0x80 != 0;
    let mut buf = [if negative { 0xff } else { 0 }; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    Value::Int(i64::from_le_bytes(buf))
}

impl Machine {
    fn pop(&mut self) -> Result<Value> {
        self.stack.pop().ok_or_else(|| bad("stack underflow"))
    }

    fn top(&mut self) -> Result<&mut Value> {
        self.stack.last_mut().ok_or_else(|| bad("stack underflow"))
    }

    /// Everything above the topmost mark, removing the mark.
    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let mark = self.stack.iter().rposition(|v| matches!(v, Value::Mark)).ok_or_else(|| bad("no mark"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    fn memo_get(&mut self, key: u32) -> Result<()> {
        let v = self.memo.get(&key).cloned().ok_or_else(|| bad(format!("memo {key} is empty")))?;
        self.stack.push(v);
        Ok(())
    }

    fn memo_put(&mut self, key: u32) -> Result<()> {
        let v = self.stack.last().cloned().ok_or_else(|| bad("stack underflow"))?;
        self.memo.insert(key, v);
        Ok(())
    }

    fn set_items(&mut self, items: Vec<Value>) -> Result<()> {
        let target = self.top()?.clone();
        let Value::Dict(dict) = target else { return Ok(()) }; // a dict subclass built as an object
        let mut dict = dict.borrow_mut();
        let mut items = items.into_iter();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            match dict.iter_mut().find(|(old, _)| same_key(old, &k)) {
                Some(slot) => slot.1 = v,
                None => dict.push((k, v)),
            }
        }
        Ok(())
    }

    fn append(&mut self, items: Vec<Value>) -> Result<()> {
        if let Value::List(list) = self.top()? {
            list.borrow_mut().extend(items);
        }
        Ok(())
    }

    /// `callable(*args)`: an `OrderedDict` is a dict, a tensor or parameter rebuild
    /// (`torch._utils`) is opaque, anything else an instance of that name whose state
    /// `BUILD` sets.
    fn call(callable: Value) -> Value {
        match callable {
            Value::Global(name) if &*name == "collections.OrderedDict" => Value::Dict(Rc::default()),
            Value::Global(name) if name.starts_with("torch._utils.") => Value::Opaque,
            Value::Global(name) => Value::object(name),
            _ => Value::Opaque,
        }
    }

    fn run(mut self, bytes: &[u8]) -> Result<Value> {
        let mut c = Cursor { bytes, at: 0 };
        loop {
            let op = c.u8()?;
            match op {
                0x80 => {
                    c.u8()?; // PROTO
                }
                0x95 => {
                    c.take(8)?; // FRAME
                }
                b'.' => return self.pop(), // STOP
                b'c' => {
                    let module = c.line()?;
                    let name = c.line()?;
                    self.stack.push(Value::Global(format!("{module}.{name}").into()));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(module), Value::Str(name)) = (module, name) else {
                        return Err(bad("STACK_GLOBAL expects two strings"));
                    };
                    self.stack.push(Value::Global(format!("{module}.{name}").into()));
                }
                b'q' => {
                    let k = c.u8()?;
                    self.memo_put(k.into())?;
                }
                b'r' => {
                    let k = u32::from_le_bytes(c.le()?);
                    self.memo_put(k)?;
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    self.memo_put(k)?;
                }
                b'h' => {
                    let k = c.u8()?;
                    self.memo_get(k.into())?;
                }
                b'j' => {
                    let k = u32::from_le_bytes(c.le()?);
                    self.memo_get(k)?;
                }
                b'}' => self.stack.push(Value::Dict(Rc::default())),
                b']' => self.stack.push(Value::List(Rc::default())),
                b')' => self.stack.push(Value::Opaque),
                0x8f => self.stack.push(Value::Opaque), // EMPTY_SET
                b'(' => self.stack.push(Value::Mark),
                b't' => {
                    self.pop_mark()?;
                    self.stack.push(Value::Opaque);
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err(bad("stack underflow"));
                    }
                    self.stack.truncate(self.stack.len() - n);
                    self.stack.push(Value::Opaque);
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(Rc::new(RefCell::new(items))));
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Dict(Rc::default()));
                    self.set_items(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                0x90 => {
                    self.pop_mark()?; // ADDITEMS to a set
                }
                0x91 => {
                    self.pop_mark()?;
                    self.stack.push(Value::Opaque); // FROZENSET
                }
                b'X' => {
                    let n = u32::from_le_bytes(c.le()?) as usize;
                    let v = c.text(n)?;
                    self.stack.push(v);
                }
                0x8c => {
                    let n = c.u8()? as usize;
                    let v = c.text(n)?;
                    self.stack.push(v);
                }
                0x8d => {
                    let n = usize::try_from(u64::from_le_bytes(c.le()?)).map_err(|_| bad("string too long"))?;
                    let v = c.text(n)?;
                    self.stack.push(v);
                }
                b'T' | b'B' => {
                    let n = u32::from_le_bytes(c.le()?) as usize;
                    c.take(n)?;
                    self.stack.push(Value::Opaque);
                }
                b'U' | b'C' => {
                    let n = c.u8()? as usize;
                    c.take(n)?;
                    self.stack.push(Value::Opaque);
                }
                0x8e => {
                    let n = usize::try_from(u64::from_le_bytes(c.le()?)).map_err(|_| bad("bytes too long"))?;
                    c.take(n)?;
                    self.stack.push(Value::Opaque);
                }
                b'J' => self.stack.push(Value::Int(i32::from_le_bytes(c.le()?).into())),
                b'K' => self.stack.push(Value::Int(c.u8()?.into())),
                b'M' => self.stack.push(Value::Int(u16::from_le_bytes(c.le()?).into())),
                0x8a => {
                    let n = c.u8()? as usize;
                    let v = long(c.take(n)?);
                    self.stack.push(v);
                }
                0x8b => {
                    let n = u32::from_le_bytes(c.le()?) as usize;
                    let v = long(c.take(n)?);
                    self.stack.push(v);
                }
                b'G' => {
                    c.take(8)?;
                    self.stack.push(Value::Opaque);
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'R' => {
                    self.pop()?; // the arguments
                    let callable = self.pop()?;
                    self.stack.push(Self::call(callable));
                }
                0x81 => {
                    self.pop()?; // NEWOBJ: cls, args
                    let cls = self.pop()?;
                    self.stack.push(Self::call(cls));
                }
                0x92 => {
                    self.pop()?; // NEWOBJ_EX: cls, args, kwargs
                    self.pop()?;
                    let cls = self.pop()?;
                    self.stack.push(Self::call(cls));
                }
                b'b' => {
                    let state = self.pop()?;
                    match self.top()? {
                        Value::Object(o) => o.borrow_mut().state = state,
                        Value::Dict(d) => {
                            // A dict subclass with a `__dict__`: keep its items (a dict given
                            // itself as state has them already).
                            if let Some(Value::Dict(extra)) = state.filter_dict(d) {
                                let items: Vec<_> = extra.borrow().iter().cloned().collect();
                                d.borrow_mut().extend(items);
                            }
                        }
                        _ => {}
                    }
                }
                b'Q' => {
                    self.pop()?; // BINPERSID: a tensor storage
                    self.stack.push(Value::Opaque);
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.stack.push(v);
                }
                other => return Err(bad(format!("opcode 0x{other:02x} at byte {}", c.at - 1))),
            }
        }
    }
}

/// Dict keys compare by value for strings and integers (all the checkpoint's keys).
fn same_key(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(a), Value::Str(b)) => a == b,
        (Value::Int(a), Value::Int(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{"model": Net}` where Net's `_modules` holds `act: SiLU()` and `n: 3`, pickled by
    /// hand with protocol 2 opcodes (GLOBAL, NEWOBJ, BUILD, memo) as `torch.save` writes them.
    fn pickled() -> Vec<u8> {
        let mut p = vec![0x80, 2, b'}', b'q', 0, b'X'];
        let s = |p: &mut Vec<u8>, t: &str| {
            p.push(b'X');
            p.extend((t.len() as u32).to_le_bytes());
            p.extend(t.as_bytes());
        };
        p.extend(5u32.to_le_bytes());
        p.extend(b"model");
        p.extend(b"cpkg.nn\nNet\nq\x01)\x81q\x02}q\x03(");
        s(&mut p, "n");
        p.extend([b'K', 3]);
        s(&mut p, "add");
        p.push(0x88);
        s(&mut p, "_modules");
        p.extend(b"ccollections\nOrderedDict\nq\x04)Rq\x05");
        s(&mut p, "act");
        p.extend(b"ctorch.nn.modules.activation\nSiLU\nq\x06)\x81q\x07}q\x08bs");
        p.extend(b"ubs.");
        p
    }

    #[test]
    fn classes_and_attributes_by_module_path() {
        let m = Modules::parse(&pickled()).unwrap();
        assert_eq!(m.class("model").as_deref(), Some("pkg.nn.Net"));
        assert_eq!(m.class_name("model.act").as_deref(), Some("SiLU"));
        assert_eq!(m.int("model", "n"), Some(3));
        assert_eq!(m.int("model", "add"), Some(1));
        assert_eq!(m.class("model.missing"), None);
        assert_eq!(m.int("model", "missing"), None);
    }

    #[test]
    fn broken_pickles_are_errors_not_panics() {
        let whole = pickled();
        for end in 0..whole.len() - 1 {
            assert!(Modules::parse(&whole[..end]).is_err(), "{end} bytes parsed");
        }
        assert!(Modules::parse(&[0x80, 2, 0xff]).is_err());
        assert!(Modules::parse(b"h\x05.").is_err());
        // A dict built with itself as its state, and a list appended to itself: no panic.
        assert!(Modules::parse(b"}q\x00h\x00b.").is_ok());
        assert!(Modules::parse(b"]q\x00h\x00a.").is_ok());
        // An object that is its own state: lookups end.
        let own = Modules::parse(b"}X\x05\x00\x00\x00modelcm\nC\n)\x81q\x01h\x01bs.").unwrap();
        assert_eq!(own.class("model").as_deref(), Some("m.C"));
        assert_eq!(own.int("model", "n"), None);
    }

    #[test]
    fn longs_are_twos_complement() {
        assert!(matches!(long(&[]), Value::Int(0)));
        assert!(matches!(long(&[0xff]), Value::Int(-1)));
        assert!(matches!(long(&[0x00, 0x01]), Value::Int(256)));
        assert!(matches!(long(&[0; 9]), Value::Opaque));
    }
}
