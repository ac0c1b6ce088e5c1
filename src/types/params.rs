//! Request parameters as typed values, before they are encoded for PVE.
//!
//! Option types (e.g. [`VzdumpOptions`](super::VzdumpOptions)) turn themselves into [`Params`];
//! the HTTP client checks every name and type against its endpoint table and encodes them the
//! way PVE reads them (booleans as `0`/`1`, lists comma-separated).

use std::fmt;

/// One parameter value, with the type PVE's schema gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// Schema type `boolean`; sent as `0` or `1`.
    Bool(bool),
    /// Schema type `integer`.
    Int(i64),
    /// Schema type `number`.
    Num(f64),
    /// Schema type `string` (also enum values and property strings).
    Str(String),
}

impl ParamValue {
    /// The text PVE expects in a form body or query string.
    pub fn encode(&self) -> String {
        match self {
            ParamValue::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
            ParamValue::Int(n) => n.to_string(),
            ParamValue::Num(f) => f.to_string(),
            ParamValue::Str(s) => s.clone(),
        }
    }

    /// The schema type name: `boolean`, `integer`, `number` or `string`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ParamValue::Bool(_) => "boolean",
            ParamValue::Int(_) => "integer",
            ParamValue::Num(_) => "number",
            ParamValue::Str(_) => "string",
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// An ordered list of named parameters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(Vec<(String, ParamValue)>);

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a parameter (a second value for the same name replaces the first).
    pub fn set(&mut self, name: impl Into<String>, value: ParamValue) -> &mut Self {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
        self
    }

    /// Adds a boolean.
    pub fn bool(&mut self, name: &str, value: bool) -> &mut Self {
        self.set(name, ParamValue::Bool(value))
    }

    /// Adds an integer.
    pub fn int(&mut self, name: &str, value: impl Into<i64>) -> &mut Self {
        self.set(name, ParamValue::Int(value.into()))
    }

    /// Adds a string.
    pub fn str(&mut self, name: &str, value: impl fmt::Display) -> &mut Self {
        self.set(name, ParamValue::Str(value.to_string()))
    }

    /// Adds a boolean when set.
    pub fn opt_bool(&mut self, name: &str, value: Option<bool>) -> &mut Self {
        if let Some(v) = value {
            self.bool(name, v);
        }
        self
    }

    /// Adds an integer when set.
    pub fn opt_int<T: Into<i64>>(&mut self, name: &str, value: Option<T>) -> &mut Self {
        if let Some(v) = value {
            self.int(name, v);
        }
        self
    }

    /// Adds a string when set.
    pub fn opt_str<T: fmt::Display>(&mut self, name: &str, value: Option<T>) -> &mut Self {
        if let Some(v) = value {
            self.str(name, v);
        }
        self
    }

    /// Adds a comma-separated list when not empty (PVE's `-list` formats, e.g.
    /// `pve-vmid-list`).
    pub fn list<T: fmt::Display>(&mut self, name: &str, values: &[T]) -> &mut Self {
        if !values.is_empty() {
            let text: Vec<String> = values.iter().map(ToString::to_string).collect();
            self.str(name, text.join(","));
        }
        self
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// All parameters in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Values PVE takes as a fixed set of strings (the schema's `enum`).
pub trait WireEnum: Copy + 'static {
    /// Every value, in the schema's order.
    const ALL: &'static [Self];

    /// The wire text.
    fn as_str(self) -> &'static str;

    /// The value with this wire text.
    fn from_wire(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }
}

/// Defines a fieldless enum whose values are sent as fixed strings, with `WireEnum`,
/// `Display`, `FromStr` and string serde.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $crate::types::params::WireEnum for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl $name {
            /// The text PVE uses for this value.
            pub fn as_str(self) -> &'static str {
                $crate::types::params::WireEnum::as_str(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::ids::InvalidId;
            fn from_str(s: &str) -> Result<Self, $crate::ids::InvalidId> {
                <Self as $crate::types::params::WireEnum>::from_wire(s)
                    .ok_or_else(|| $crate::ids::InvalidId::new($what, s))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = $crate::types::de::string_lenient(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        let mut p = Params::new();
        p.bool("full", true)
            .bool("online", false)
            .int("newid", 101)
            .opt_str("name", Some("web"))
            .opt_str::<&str>("pool", None)
            .list("vmid", &[100, 101])
            .list::<u32>("exclude", &[]);
        let enc: Vec<(&str, String)> = p.iter().map(|(n, v)| (n, v.encode())).collect();
        assert_eq!(
            enc,
            [
                ("full", "1".to_owned()),
                ("online", "0".to_owned()),
                ("newid", "101".to_owned()),
                ("name", "web".to_owned()),
                ("vmid", "100,101".to_owned()),
            ]
        );
        p.int("newid", 102);
        assert_eq!(p.get("newid"), Some(&ParamValue::Int(102)));
        assert_eq!(p.len(), 5);
    }
}
