//! The preprocessing operators of ai.onnx.ml that scikit-learn pipelines use: LabelEncoder,
//! CategoryMapper and OneHotEncoder (categories, strings or integers), Scaler, Imputer,
//! Binarizer, ArrayFeatureExtractor and FeatureVectorizer. Where the specification is open they
//! do what onnxruntime does.

use std::collections::HashMap;

use super::super::super::tensor::{alloc_len, Data, OpResult, Tensor};
use super::super::{from_proto, input, NodeCtx, Op};
use super::{attr, ints, rows, strings};

// ---------------------------------------------------------------------------------------------
// Key-value maps: LabelEncoder and CategoryMapper

/// A key: a string, an integer, or a float's bits (every NaN one key, -0 equal to 0).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    S(String),
    I(i64),
    F(u32),
}

fn float_key(v: f32) -> Key {
    Key::F(if v.is_nan() {
        f32::NAN.to_bits()
    } else {
        (v + 0.0).to_bits()
    })
}

/// The keys of a tensor, or `None` for a type that cannot be a key.
fn keys_of(d: &Data) -> Option<Vec<Key>> {
    Some(match d {
        Data::Str(v) => v.iter().map(|s| Key::S(s.clone())).collect(),
        Data::I64(v) => v.iter().map(|&x| Key::I(x)).collect(),
        Data::I32(v) => v.iter().map(|&x| Key::I(x as i64)).collect(),
        Data::F32(v) => v.iter().map(|&x| float_key(x)).collect(),
        _ => return None,
    })
}

/// The kind of a key, so that an input meets the map of its type.
fn kind(k: &Key) -> u8 {
    match k {
        Key::S(_) => 0,
        Key::I(_) => 1,
        Key::F(_) => 2,
    }
}

/// One direction of a lookup: keys of one type to values of one type, with a default.
struct Mapping {
    kind: u8,
    index: HashMap<Key, usize>,
    /// The values, then the default as their last element, at `default`.
    values: Data,
    default: usize,
}

impl Mapping {
    fn new(keys: Vec<Key>, values: Data, default: Data) -> OpResult<Mapping> {
        let kind = keys.first().map_or(0, kind);
        let at = keys.len();
        let n = Tensor {
            shape: vec![],
            data: values,
        };
        if keys.len() != n.len() {
            return Err(format!("{} keys for {} values", keys.len(), n.len()));
        }
        let mut index = HashMap::new();
        for (i, k) in keys.into_iter().enumerate() {
            // The first of equal keys wins, as in onnxruntime's map.
            index.entry(k).or_insert(i);
        }
        let values = match (n.data, default) {
            (Data::Str(mut v), Data::Str(d)) => {
                v.extend(d);
                Data::Str(v)
            }
            (Data::I64(mut v), Data::I64(d)) => {
                v.extend(d);
                Data::I64(v)
            }
            (Data::I32(mut v), Data::I32(d)) => {
                v.extend(d);
                Data::I32(v)
            }
            (Data::F32(mut v), Data::F32(d)) => {
                v.extend(d);
                Data::F32(v)
            }
            (v, d) => {
                let name = |d: Data| {
                    Tensor {
                        shape: vec![],
                        data: d,
                    }
                    .dtype()
                };
                return Err(format!(
                    "the values are {} and the default {}, which the lite build does not map",
                    name(v),
                    name(d)
                ));
            }
        };
        let default = at;
        let total = Tensor {
            shape: vec![],
            data: values,
        };
        if total.len() != default + 1 {
            return Err("the default is not one value".into());
        }
        Ok(Mapping {
            kind,
            index,
            values: total.data,
            default,
        })
    }

    fn map(&self, x: &Tensor, keys: &[Key]) -> OpResult<Tensor> {
        let default = self.default;
        let at: Vec<usize> = keys
            .iter()
            .map(|k| self.index.get(k).copied().unwrap_or(default))
            .collect();
        alloc_len::<u64>(&x.shape)?;
        let data = match &self.values {
            Data::Str(v) => Data::Str(at.iter().map(|&i| v[i].clone()).collect()),
            Data::I64(v) => Data::I64(at.iter().map(|&i| v[i]).collect()),
            Data::I32(v) => Data::I32(at.iter().map(|&i| v[i]).collect()),
            Data::F32(v) => Data::F32(at.iter().map(|&i| v[i]).collect()),
            _ => unreachable!("Mapping::new keeps four types"),
        };
        Tensor::new(x.shape.clone(), data)
    }
}

/// LabelEncoder and CategoryMapper: the mapping whose keys have the input's type.
struct Lookup {
    maps: Vec<Mapping>,
}

impl Op for Lookup {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "X")?;
        let keys = keys_of(&x.data)
            .ok_or_else(|| format!("the input is {}, which has no keys here", x.dtype()))?;
        let want = match &x.data {
            Data::Str(_) => 0,
            Data::F32(_) => 2,
            _ => 1,
        };
        let map =
            self.maps.iter().find(|m| m.kind == want).ok_or_else(|| {
                format!("the input is {}, which the model does not map", x.dtype())
            })?;
        Ok(vec![map.map(x, &keys)?])
    }
}

fn str_data(v: Vec<String>) -> Data {
    Data::Str(v)
}

/// A tensor attribute's data, if the attribute is there.
fn tensor_attr(ctx: &NodeCtx, name: &str) -> OpResult<Option<Data>> {
    match attr(ctx, name).and_then(|a| a.t.as_ref()) {
        Some(t) => Ok(Some(
            from_proto(t)
                .map_err(|e| format!("attribute {name}: {e}"))?
                .data,
        )),
        None => Ok(None),
    }
}

pub(super) fn label_encoder(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let default_string = || {
        ctx.string("default_string")
            .unwrap_or_else(|| "_Unused".into())
    };
    let default_int = || ctx.int("default_int64", -1);
    if ctx.opset < 2 {
        // classes_strings: string to its index, index to string.
        let classes = strings(ctx, "classes_strings").unwrap_or_default();
        let n = classes.len() as i64;
        let to_index = Mapping::new(
            classes.iter().map(|s| Key::S(s.clone())).collect(),
            Data::I64((0..n).collect()),
            Data::I64(vec![default_int()]),
        )?;
        let to_string = Mapping::new(
            (0..n).map(Key::I).collect(),
            str_data(classes),
            str_data(vec![default_string()]),
        )?;
        return Ok(Box::new(Lookup {
            maps: vec![to_index, to_string],
        }));
    }
    let keys = if let Some(t) = tensor_attr(ctx, "keys_tensor")? {
        keys_of(&t).ok_or("keys_tensor has a type the lite build does not map")?
    } else if let Some(s) = strings(ctx, "keys_strings").filter(|s| !s.is_empty()) {
        s.into_iter().map(Key::S).collect()
    } else if ctx.has("keys_int64s") {
        ints(ctx, "keys_int64s").into_iter().map(Key::I).collect()
    } else {
        ctx.floats("keys_floats")
            .unwrap_or_default()
            .into_iter()
            .map(float_key)
            .collect()
    };
    let (values, fallback) = if let Some(t) = tensor_attr(ctx, "values_tensor")? {
        let fallback = match &t {
            Data::Str(_) => str_data(vec![default_string()]),
            Data::I64(_) => Data::I64(vec![default_int()]),
            Data::I32(_) => Data::I32(vec![default_int() as i32]),
            _ => Data::F32(vec![ctx.float("default_float", -0.0)]),
        };
        (t, fallback)
    } else if let Some(s) = strings(ctx, "values_strings").filter(|s| !s.is_empty()) {
        (str_data(s), str_data(vec![default_string()]))
    } else if ctx.has("values_int64s") {
        (
            Data::I64(ints(ctx, "values_int64s")),
            Data::I64(vec![default_int()]),
        )
    } else {
        (
            Data::F32(ctx.floats("values_floats").unwrap_or_default()),
            Data::F32(vec![ctx.float("default_float", -0.0)]),
        )
    };
    let default = match tensor_attr(ctx, "default_tensor")? {
        Some(d) => d,
        None => fallback,
    };
    let map = Mapping::new(keys, values, default)?;
    Ok(Box::new(Lookup { maps: vec![map] }))
}

pub(super) fn category_mapper(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let cats = strings(ctx, "cats_strings").unwrap_or_default();
    let ids = ints(ctx, "cats_int64s");
    if cats.len() != ids.len() {
        return Err(format!(
            "cats_strings has {} values and cats_int64s {}",
            cats.len(),
            ids.len()
        ));
    }
    let default_string = ctx
        .string("default_string")
        .unwrap_or_else(|| "_Unused".into());
    let to_int = Mapping::new(
        cats.iter().map(|s| Key::S(s.clone())).collect(),
        Data::I64(ids.clone()),
        Data::I64(vec![ctx.int("default_int64", -1)]),
    )?;
    let mut to_string = Mapping::new(
        ids.into_iter().map(Key::I).collect(),
        str_data(cats),
        str_data(vec![default_string]),
    )?;
    to_string.kind = 1;
    let mut to_int = to_int;
    to_int.kind = 0;
    Ok(Box::new(Lookup {
        maps: vec![to_int, to_string],
    }))
}

// ---------------------------------------------------------------------------------------------
// OneHotEncoder

struct OneHot {
    index: HashMap<Key, usize>,
    width: usize,
    strings: bool,
    zeros: bool,
}

pub(super) fn one_hot_encoder(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let cats = strings(ctx, "cats_strings").unwrap_or_default();
    let (keys, strings): (Vec<Key>, bool) = if !cats.is_empty() {
        (cats.into_iter().map(Key::S).collect(), true)
    } else {
        (
            ints(ctx, "cats_int64s").into_iter().map(Key::I).collect(),
            false,
        )
    };
    if keys.is_empty() {
        return Err("cats_int64s or cats_strings is required".into());
    }
    let width = keys.len();
    let mut index = HashMap::new();
    for (i, k) in keys.into_iter().enumerate() {
        index.entry(k).or_insert(i);
    }
    Ok(Box::new(OneHot {
        index,
        width,
        strings,
        zeros: ctx.int("zeros", 1) != 0,
    }))
}

impl Op for OneHot {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "X")?;
        // Numbers are categories as int64 (a float truncated), as in onnxruntime.
        let keys: Vec<Key> = match (&x.data, self.strings) {
            (Data::Str(v), true) => v.iter().map(|s| Key::S(s.clone())).collect(),
            (Data::I64(v), false) => v.iter().map(|&x| Key::I(x)).collect(),
            (Data::I32(v), false) => v.iter().map(|&x| Key::I(x as i64)).collect(),
            (Data::F32(v), false) => v.iter().map(|&x| Key::I(x as i64)).collect(),
            _ => {
                return Err(format!(
                    "the input is {}, where the categories are {}",
                    x.dtype(),
                    if self.strings { "strings" } else { "integers" }
                ))
            }
        };
        let mut shape = x.shape.clone();
        shape.push(self.width);
        let mut y = vec![0f32; alloc_len::<f32>(&shape)?];
        for (k, row) in keys.iter().zip(y.chunks_exact_mut(self.width)) {
            match self.index.get(k) {
                Some(&i) => row[i] = 1.0,
                None if self.zeros => {}
                None => {
                    return Err(format!(
                        "{k:?} is not one of the categories, and zeros is 0 (unknown categories \
                         are an error)"
                    ))
                }
            }
        }
        Ok(vec![Tensor::f32(shape, y)])
    }
}

// ---------------------------------------------------------------------------------------------
// Scaler, Imputer, Binarizer

/// The stride of per-feature attributes: onnxruntime's, the input's second dimension (its
/// only one for a vector).
fn stride(x: &Tensor) -> usize {
    match x.shape.len() {
        0 => 1,
        1 => x.shape[0],
        _ => x.shape[1],
    }
}

/// A per-feature value list of one value or `stride` of them.
fn per_feature<T: Copy>(v: &[T], stride: usize, what: &str) -> OpResult<()> {
    if v.len() == 1 || v.len() == stride || stride == 0 {
        Ok(())
    } else {
        Err(format!(
            "{what} has {} values, where the input has {stride} features",
            v.len()
        ))
    }
}

struct Scaler {
    offset: Vec<f32>,
    scale: Vec<f32>,
}

pub(super) fn scaler(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let offset = ctx.floats("offset").unwrap_or_default();
    let scale = ctx.floats("scale").unwrap_or_default();
    if offset.is_empty() || scale.is_empty() {
        return Err("offset and scale must each have one value or more".into());
    }
    Ok(Box::new(Scaler { offset, scale }))
}

impl Op for Scaler {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "X")?;
        let s = stride(x);
        per_feature(&self.offset, s, "offset")?;
        per_feature(&self.scale, s, "scale")?;
        let v = match &x.data {
            Data::F32(_) | Data::I64(_) | Data::I32(_) => x.to_f32s(),
            _ => return Err(format!("the input is {}, expected numbers", x.dtype())),
        };
        let at = |a: &[f32], i: usize| if a.len() == 1 { a[0] } else { a[i % s] };
        let y = v
            .iter()
            .enumerate()
            .map(|(i, &v)| (v - at(&self.offset, i)) * at(&self.scale, i))
            .collect();
        Ok(vec![Tensor::f32(x.shape.clone(), y)])
    }
}

struct Imputer {
    floats: Vec<f32>,
    ints: Vec<i64>,
    replaced_float: f32,
    replaced_int: i64,
}

pub(super) fn imputer(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let floats = ctx.floats("imputed_value_floats").unwrap_or_default();
    let ints = ints(ctx, "imputed_value_int64s");
    if floats.is_empty() && ints.is_empty() {
        return Err("imputed_value_floats or imputed_value_int64s is required".into());
    }
    Ok(Box::new(Imputer {
        floats,
        ints,
        replaced_float: ctx.float("replaced_value_float", 0.0),
        replaced_int: ctx.int("replaced_value_int64", 0),
    }))
}

impl Op for Imputer {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "X")?;
        let s = stride(x);
        let data = match &x.data {
            Data::F32(v) if !self.floats.is_empty() => {
                per_feature(&self.floats, s, "imputed_value_floats")?;
                let r = self.replaced_float;
                let f = &self.floats;
                Data::F32(
                    v.iter()
                        .enumerate()
                        .map(|(i, &v)| {
                            let hit = if r.is_nan() { v.is_nan() } else { v == r };
                            match hit {
                                true if f.len() == 1 => f[0],
                                true => f[i % s],
                                false => v,
                            }
                        })
                        .collect(),
                )
            }
            Data::I64(v) if !self.ints.is_empty() => {
                per_feature(&self.ints, s, "imputed_value_int64s")?;
                let f = &self.ints;
                Data::I64(
                    v.iter()
                        .enumerate()
                        .map(|(i, &v)| match v == self.replaced_int {
                            true if f.len() == 1 => f[0],
                            true => f[i % s],
                            false => v,
                        })
                        .collect(),
                )
            }
            _ => {
                return Err(format!(
                    "the input is {}, where the imputed values are {}",
                    x.dtype(),
                    if self.floats.is_empty() {
                        "int64"
                    } else {
                        "float32"
                    }
                ))
            }
        };
        Ok(vec![Tensor::new(x.shape.clone(), data)?])
    }
}

struct Binarizer(f32);

pub(super) fn binarizer(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(Binarizer(ctx.float("threshold", 0.0))))
}

impl Op for Binarizer {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "X")?;
        let v = x
            .as_f32()
            .map_err(|e| format!("input X: {e}"))?
            .iter()
            .map(|&v| if v > self.0 { 1.0 } else { 0.0 })
            .collect();
        Ok(vec![Tensor::f32(x.shape.clone(), v)])
    }
}

// ---------------------------------------------------------------------------------------------
// ArrayFeatureExtractor, FeatureVectorizer

struct ArrayFeatureExtractor;

pub(super) fn array_feature_extractor(_: &NodeCtx) -> OpResult<Box<dyn Op>> {
    Ok(Box::new(ArrayFeatureExtractor))
}

impl Op for ArrayFeatureExtractor {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        let x = input(inputs, 0, "X")?;
        let y = input(inputs, 1, "Y")?;
        let ids = y.to_i64s().map_err(|e| format!("input Y: {e}"))?;
        let Some(&stride) = x.shape.last() else {
            return Err("input X is a scalar, where it needs one dimension or more".into());
        };
        if ids.is_empty() {
            return Err("input Y has no indices".into());
        }
        let ids = ids
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .filter(|&i| i < stride)
                    .ok_or_else(|| format!("index {i} is out of range for {stride} features"))
            })
            .collect::<OpResult<Vec<usize>>>()?;
        let mut shape = x.shape.clone();
        if shape.len() == 1 {
            shape.insert(0, 1);
        }
        *shape.last_mut().expect("rank >= 1") = ids.len();
        let len = alloc_len::<u64>(&shape)?;
        fn pick<T: Clone>(v: &[T], stride: usize, ids: &[usize], len: usize) -> Vec<T> {
            let mut out = Vec::with_capacity(len);
            for row in v.chunks_exact(stride) {
                out.extend(ids.iter().map(|&i| row[i].clone()));
            }
            out
        }
        let data = match &x.data {
            Data::F32(v) => Data::F32(pick(v, stride, &ids, len)),
            Data::I64(v) => Data::I64(pick(v, stride, &ids, len)),
            Data::I32(v) => Data::I32(pick(v, stride, &ids, len)),
            Data::Str(v) => Data::Str(pick(v, stride, &ids, len)),
            _ => return Err(format!("input X is {}, which it does not take", x.dtype())),
        };
        Ok(vec![Tensor::new(shape, data)?])
    }
}

struct FeatureVectorizer {
    dims: Vec<usize>,
}

pub(super) fn feature_vectorizer(ctx: &NodeCtx) -> OpResult<Box<dyn Op>> {
    let dims = ints(ctx, "inputdimensions")
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| format!("inputdimensions has {d}")))
        .collect::<OpResult<Vec<usize>>>()?;
    Ok(Box::new(FeatureVectorizer { dims }))
}

impl Op for FeatureVectorizer {
    fn run(&self, inputs: &[Option<&Tensor>]) -> OpResult<Vec<Tensor>> {
        if inputs.len() != self.dims.len() {
            return Err(format!(
                "{} inputs, where inputdimensions gives {}",
                inputs.len(),
                self.dims.len()
            ));
        }
        let total: usize = self.dims.iter().sum();
        let mut n = None;
        let mut parts = vec![];
        for i in 0..inputs.len() {
            let (rows_i, f, x) = rows(input(inputs, i, "X")?)?;
            if n.is_some_and(|n| n != rows_i) {
                return Err(format!(
                    "input {i} has {rows_i} rows, where input 0 has {}",
                    n.unwrap_or(0)
                ));
            }
            n = Some(rows_i);
            parts.push((f, x));
        }
        let n = n.unwrap_or(0);
        let mut y = vec![0f32; alloc_len::<f32>(&[n, total])?];
        let mut at = 0;
        for ((f, x), &d) in parts.iter().zip(&self.dims) {
            let take = (*f).min(d);
            for (r, row) in y.chunks_exact_mut(total.max(1)).enumerate() {
                row[at..at + take].copy_from_slice(&x[r * f..r * f + take]);
            }
            at += d;
        }
        Ok(vec![Tensor::f32(vec![n, total], y)])
    }
}
