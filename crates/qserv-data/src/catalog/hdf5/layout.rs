//! The byte layout of an astropy table's rows, read from the dataset's compound type.
//!
//! hdf5-metno's `TypeDescriptor` drops each member's byte order and string padding, and both
//! matter here (big-endian files exist; astropy pads strings with NULs), so the members are
//! read with the raw HDF5 type API, under hdf5-metno's global lock because Debian's libhdf5 is
//! not built thread-safe.

use std::ffi::CStr;

use hdf5_metno::sync::sync;
use hdf5_metno_sys::h5::H5free_memory;
use hdf5_metno_sys::h5i::hid_t;
use hdf5_metno_sys::h5t::{
    H5T_class_t, H5T_order_t, H5T_sign_t, H5T_str_t, H5Tclose, H5Tget_class, H5Tget_member_name,
    H5Tget_member_offset, H5Tget_member_type, H5Tget_member_value, H5Tget_nmembers, H5Tget_order,
    H5Tget_sign, H5Tget_size, H5Tget_strpad, H5Tget_super, H5Tis_variable_str,
};

/// How one field's bytes are to be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// Two's complement or unsigned integer of 1, 2, 4 or 8 bytes (also non-boolean enums,
    /// which are read as their integer values).
    Int { size: usize, signed: bool },
    /// IEEE float of 4 or 8 bytes.
    Float { size: usize },
    /// h5py's boolean: a 1-byte enum {FALSE = 0, TRUE = 1}.
    Bool,
    /// Fixed-width byte string.
    FixedString { size: usize, pad: StringPad },
}

/// How a fixed-width string is padded (HDF5 `H5T_str_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StringPad {
    /// The value ends at the first NUL (C strings).
    NullTerm,
    /// Trailing NULs are padding (numpy `S` dtype, what astropy writes).
    NullPad,
    /// Trailing spaces are padding (Fortran).
    SpacePad,
}

/// One member of the compound type.
#[derive(Clone, Debug)]
pub(crate) struct FieldLayout {
    pub name: String,
    pub offset: usize,
    pub kind: FieldKind,
    pub big_endian: bool,
}

/// The compound type of a table row.
#[derive(Clone, Debug)]
pub(crate) struct RowLayout {
    pub row_size: usize,
    pub fields: Vec<FieldLayout>,
}

/// Owns a datatype id returned by the HDF5 library and closes it on drop.
struct TypeId(hid_t);

impl Drop for TypeId {
    fn drop(&mut self) {
        // SAFETY: the id was returned by H5Tget_member_type/H5Tget_super and is closed once.
        unsafe {
            H5Tclose(self.0);
        }
    }
}

/// Reads the row layout of a compound datatype; the error says why it is not a table.
pub(crate) fn row_layout(type_id: hid_t) -> Result<RowLayout, String> {
    sync(|| {
        // SAFETY: `type_id` is a valid datatype id owned by the caller for this call; every
        // id and string the library returns is closed or freed before returning.
        unsafe {
            if H5Tget_class(type_id) != H5T_class_t::H5T_COMPOUND {
                return Err(format!(
                    "its type is {}, not a compound (row) type",
                    class_name(type_id)
                ));
            }
            let row_size = H5Tget_size(type_id);
            let count = H5Tget_nmembers(type_id);
            if count <= 0 {
                return Err("its compound type has no members".to_string());
            }
            let mut fields = Vec::with_capacity(count as usize);
            for index in 0..count as u32 {
                let name = member_name(type_id, index)?;
                let offset = H5Tget_member_offset(type_id, index);
                let member = TypeId(H5Tget_member_type(type_id, index));
                if member.0 < 0 {
                    return Err(format!("cannot read the type of member `{name}`"));
                }
                let (kind, big_endian) =
                    field_kind(member.0).map_err(|reason| format!("column `{name}`: {reason}"))?;
                let size = H5Tget_size(member.0);
                if offset + size > row_size {
                    return Err(format!(
                        "column `{name}` lies outside the {row_size}-byte row"
                    ));
                }
                fields.push(FieldLayout {
                    name,
                    offset,
                    kind,
                    big_endian,
                });
            }
            Ok(RowLayout { row_size, fields })
        }
    })
}

unsafe fn member_name(type_id: hid_t, index: u32) -> Result<String, String> {
    let raw = unsafe { H5Tget_member_name(type_id, index) };
    if raw.is_null() {
        return Err(format!("cannot read the name of member {index}"));
    }
    let name = unsafe { CStr::from_ptr(raw) }
        .to_string_lossy()
        .into_owned();
    unsafe { H5free_memory(raw.cast()) };
    Ok(name)
}

unsafe fn field_kind(id: hid_t) -> Result<(FieldKind, bool), String> {
    let size = unsafe { H5Tget_size(id) };
    let big_endian = unsafe { H5Tget_order(id) } == H5T_order_t::H5T_ORDER_BE;
    let kind = match unsafe { H5Tget_class(id) } {
        H5T_class_t::H5T_INTEGER => {
            if ![1, 2, 4, 8].contains(&size) {
                return Err(format!("{size}-byte integers are not supported"));
            }
            let signed = unsafe { H5Tget_sign(id) } == H5T_sign_t::H5T_SGN_2;
            FieldKind::Int { size, signed }
        }
        H5T_class_t::H5T_FLOAT => {
            if size != 4 && size != 8 {
                return Err(format!("{size}-byte floats are not supported"));
            }
            FieldKind::Float { size }
        }
        H5T_class_t::H5T_ENUM => {
            let base = TypeId(unsafe { H5Tget_super(id) });
            let (base_kind, base_big_endian) = unsafe { field_kind(base.0) }?;
            if size == 1 && unsafe { is_bool_enum(id) } {
                return Ok((FieldKind::Bool, false));
            }
            return Ok((base_kind, base_big_endian));
        }
        H5T_class_t::H5T_STRING => {
            if unsafe { H5Tis_variable_str(id) } > 0 {
                return Err("variable-length strings are not supported (astropy writes \
                            fixed-width byte strings)"
                    .to_string());
            }
            let pad = match unsafe { H5Tget_strpad(id) } {
                H5T_str_t::H5T_STR_NULLTERM => StringPad::NullTerm,
                H5T_str_t::H5T_STR_SPACEPAD => StringPad::SpacePad,
                _ => StringPad::NullPad,
            };
            FieldKind::FixedString { size, pad }
        }
        H5T_class_t::H5T_ARRAY => {
            return Err("multidimensional (array) columns are not supported".to_string());
        }
        _ => return Err(format!("type class {} is not supported", class_name(id))),
    };
    Ok((kind, big_endian))
}

/// h5py writes numpy bools as a 1-byte enum whose members are exactly FALSE = 0, TRUE = 1.
unsafe fn is_bool_enum(id: hid_t) -> bool {
    if unsafe { H5Tget_nmembers(id) } != 2 {
        return false;
    }
    (0..2u32).all(|index| {
        let mut value: u8 = 0;
        let ok = unsafe { H5Tget_member_value(id, index, (&mut value as *mut u8).cast()) } >= 0;
        let name = unsafe { member_name(id, index) }.unwrap_or_default();
        ok && matches!((name.as_str(), value), ("FALSE", 0) | ("TRUE", 1))
    })
}

fn class_name(id: hid_t) -> &'static str {
    // SAFETY: a read-only query on a valid datatype id.
    match unsafe { H5Tget_class(id) } {
        H5T_class_t::H5T_INTEGER => "integer",
        H5T_class_t::H5T_FLOAT => "float",
        H5T_class_t::H5T_STRING => "string",
        H5T_class_t::H5T_BITFIELD => "bitfield",
        H5T_class_t::H5T_OPAQUE => "opaque",
        H5T_class_t::H5T_COMPOUND => "compound",
        H5T_class_t::H5T_REFERENCE => "reference",
        H5T_class_t::H5T_ENUM => "enum",
        H5T_class_t::H5T_VLEN => "variable-length",
        H5T_class_t::H5T_ARRAY => "array",
        _ => "unknown",
    }
}
