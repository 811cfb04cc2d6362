//! Conformance cases (`reference/FORMAT.md`): one JSON object per line.
//!
//! `pred` numbers are parsed as `f32` straight from their text. Binary and
//! multilabel targets are float32 values (parsed as f32, then widened);
//! multiclass targets are integer class ids (possibly `ignore_index`), stored
//! as exact f64 values. Every parameter is parsed as f64, `class_weights`
//! included: smp's losses store them as float32 (the oracle rounds them, see
//! `oracle::smp_weights`), while PyTorch's `cross_entropy` in the reference
//! data was given the f64 decimals (checked: its weighted cases match to 1e-15
//! with f64 weights and only to ~1e-9 with f32 ones).

use super::json::{self, Value};

/// A loss parameter that may be absent (use the default) or `null` (none):
/// `None` = missing key, `Some(None)` = `null`, `Some(Some(v))` = a value.
pub type Nullable<T> = Option<Option<T>>;

/// Every parameter named in FORMAT.md; `None` means "missing → default".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params {
    pub smooth: Option<f64>,
    pub eps: Option<f64>,
    pub log_loss: Option<bool>,
    /// Region losses: Tversky α. Focal: α (`null` = no α factor). sigmoid_focal: α.
    pub alpha: Nullable<f64>,
    pub beta: Option<f64>,
    pub gamma: Option<f64>,
    /// `null` = no ignore index (relevant where the default is −100).
    pub ignore_index: Nullable<i64>,
    pub classes: Option<Vec<usize>>,
    /// The decimal values as f64 (see the module docs for f32 rounding).
    pub class_weights: Option<Vec<f64>>,
    pub normalized: Option<bool>,
    pub reduced_threshold: Nullable<f64>,
    /// `"mean"`, `"sum"` or `"none"`.
    pub reduction: Option<String>,
    pub pos_weight: Option<f64>,
    pub smooth_factor: Nullable<f64>,
    pub threshold: Option<f64>,
    pub label_smoothing: Option<f64>,
}

/// One conformance case.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub id: String,
    pub kind: String,
    pub mode: String,
    pub from_logits: bool,
    /// `[N, C, S]` of `pred`.
    pub shape: [usize; 3],
    pub params: Params,
    pub pred: Vec<f32>,
    /// Binary/multilabel: f32 values widened; multiclass: class ids.
    pub target: Vec<f64>,
    pub value: f64,
    pub grad: Option<Vec<f64>>,
    pub note: Option<String>,
}

impl Case {
    /// `pred` widened to f64 (exact).
    pub fn pred_f64(&self) -> Vec<f64> {
        self.pred.iter().map(|&p| f64::from(p)).collect()
    }
}

fn field<'a>(obj: &'a Value, key: &str) -> Result<&'a Value, String> {
    obj.get(key).ok_or_else(|| format!("missing field `{key}`"))
}

fn num_f64(v: &Value, what: &str) -> Result<f64, String> {
    v.as_f64()
        .ok_or_else(|| format!("`{what}` is not a number"))
}

fn num_f32(v: &Value, what: &str) -> Result<f32, String> {
    v.as_f32()
        .ok_or_else(|| format!("`{what}` is not a number"))
}

fn boolean(v: &Value, what: &str) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("`{what}` is not a boolean"))
}

fn array<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], String> {
    v.as_array()
        .ok_or_else(|| format!("`{what}` is not an array"))
}

/// An integer given as `255` or `255.0` (integral, within i64).
fn integer(v: &Value, what: &str) -> Result<i64, String> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    let x = num_f64(v, what)?;
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Ok(x as i64)
    } else {
        Err(format!("`{what}` is not an integer"))
    }
}

fn nullable<T>(
    v: &Value,
    f: impl FnOnce(&Value) -> Result<T, String>,
) -> Result<Option<T>, String> {
    if v.is_null() {
        Ok(None)
    } else {
        f(v).map(Some)
    }
}

fn parse_params(v: &Value) -> Result<Params, String> {
    let fields = match v {
        Value::Object(f) => f,
        _ => return Err("`params` is not an object".into()),
    };
    let mut p = Params::default();
    for (key, val) in fields {
        let k = key.as_str();
        match k {
            "smooth" => p.smooth = Some(num_f64(val, k)?),
            "eps" => p.eps = Some(num_f64(val, k)?),
            "log_loss" => p.log_loss = Some(boolean(val, k)?),
            "alpha" => p.alpha = Some(nullable(val, |x| num_f64(x, k))?),
            "beta" => p.beta = Some(num_f64(val, k)?),
            "gamma" => p.gamma = Some(num_f64(val, k)?),
            "ignore_index" => p.ignore_index = Some(nullable(val, |x| integer(x, k))?),
            "classes" => {
                let mut out = Vec::new();
                for c in array(val, k)? {
                    let i = integer(c, k)?;
                    out.push(usize::try_from(i).map_err(|_| "negative class id".to_owned())?);
                }
                p.classes = Some(out);
            }
            "class_weights" => {
                let mut out = Vec::new();
                for w in array(val, k)? {
                    out.push(num_f64(w, k)?);
                }
                p.class_weights = Some(out);
            }
            "normalized" => p.normalized = Some(boolean(val, k)?),
            "reduced_threshold" => p.reduced_threshold = Some(nullable(val, |x| num_f64(x, k))?),
            "reduction" => {
                let r = val.as_str().ok_or("`reduction` is not a string")?;
                if !matches!(r, "mean" | "sum" | "none") {
                    return Err(format!("unknown reduction `{r}`"));
                }
                p.reduction = Some(r.to_owned());
            }
            "pos_weight" => p.pos_weight = Some(num_f64(val, k)?),
            "smooth_factor" => p.smooth_factor = Some(nullable(val, |x| num_f64(x, k))?),
            "threshold" => p.threshold = Some(num_f64(val, k)?),
            "label_smoothing" => p.label_smoothing = Some(num_f64(val, k)?),
            other => return Err(format!("unknown parameter `{other}`")),
        }
    }
    Ok(p)
}

/// Parse one line of a conformance file.
pub fn parse_line(line: &str) -> Result<Case, String> {
    let v = json::parse(line)?;
    let id = field(&v, "id")?
        .as_str()
        .ok_or("`id` is not a string")?
        .to_owned();
    let ctx = |e: String| format!("{id}: {e}");
    let kind = field(&v, "kind")?
        .as_str()
        .ok_or_else(|| ctx("`kind` is not a string".into()))?
        .to_owned();
    let mode = field(&v, "mode")?
        .as_str()
        .ok_or_else(|| ctx("`mode` is not a string".into()))?
        .to_owned();
    if !matches!(mode.as_str(), "binary" | "multiclass" | "multilabel") {
        return Err(ctx(format!("unknown mode `{mode}`")));
    }
    let from_logits = boolean(field(&v, "from_logits")?, "from_logits").map_err(ctx)?;
    let shape_v = array(field(&v, "shape")?, "shape").map_err(ctx)?;
    if shape_v.len() != 3 {
        return Err(ctx("`shape` must have 3 entries".into()));
    }
    let mut shape = [0usize; 3];
    for (s, x) in shape.iter_mut().zip(shape_v) {
        *s = usize::try_from(integer(x, "shape").map_err(ctx)?)
            .map_err(|_| ctx("negative shape".into()))?;
    }
    let params = parse_params(field(&v, "params")?).map_err(ctx)?;
    let pred = array(field(&v, "pred")?, "pred")
        .map_err(ctx)?
        .iter()
        .map(|x| num_f32(x, "pred"))
        .collect::<Result<Vec<f32>, String>>()
        .map_err(ctx)?;
    let target_v = array(field(&v, "target")?, "target").map_err(ctx)?;
    let target = if mode == "multiclass" {
        target_v
            .iter()
            .map(|x| integer(x, "target").map(|i| i as f64))
            .collect::<Result<Vec<f64>, String>>()
    } else {
        target_v
            .iter()
            .map(|x| num_f32(x, "target").map(f64::from))
            .collect()
    }
    .map_err(ctx)?;
    let value = num_f64(field(&v, "value")?, "value").map_err(ctx)?;
    let grad = match v.get("grad") {
        None | Some(Value::Null) => None,
        Some(g) => Some(
            array(g, "grad")
                .map_err(ctx)?
                .iter()
                .map(|x| num_f64(x, "grad"))
                .collect::<Result<Vec<f64>, String>>()
                .map_err(ctx)?,
        ),
    };
    let note = match v.get("note") {
        None | Some(Value::Null) => None,
        Some(n) => Some(
            n.as_str()
                .ok_or_else(|| ctx("`note` is not a string".into()))?
                .to_owned(),
        ),
    };

    let [n, c, s] = shape;
    let len = n
        .checked_mul(c)
        .and_then(|x| x.checked_mul(s))
        .ok_or_else(|| ctx("shape overflows".into()))?;
    if pred.len() != len {
        return Err(ctx(format!(
            "pred has {} values, shape says {len}",
            pred.len()
        )));
    }
    let tlen = if mode == "multiclass" { n * s } else { len };
    if target.len() != tlen {
        return Err(ctx(format!(
            "target has {} values, expected {tlen}",
            target.len()
        )));
    }
    if let Some(g) = &grad
        && g.len() != len
    {
        return Err(ctx(format!("grad has {} values, expected {len}", g.len())));
    }
    Ok(Case {
        id,
        kind,
        mode,
        from_logits,
        shape,
        params,
        pred,
        target,
        value,
        grad,
        note,
    })
}

/// Load every non-blank line of a conformance file.
pub fn load(path: impl AsRef<std::path::Path>) -> Result<Vec<Case>, String> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_line(l).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1)))
        .collect()
}
