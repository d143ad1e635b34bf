//! User names and ids through the C library, so every source the system
//! is configured with answers: `/etc/passwd`, but also LDAP, SSSD,
//! systemd-homed or NIS through NSS (`/etc/nsswitch.conf`), the norm on GPU
//! clusters. Parsing `/etc/passwd` alone (as `sysinfo` does) shows such
//! users as bare uids, and refuses their names.
//!
//! Lookups can be slow (a directory server over the network), so answers
//! are cached for the life of the process: a name for [`NAME_TTL`], a
//! "no such user" or a failed lookup for [`MISS_TTL`], so a user added
//! later, or a directory server that comes back, is seen soon.

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a name found for a uid (or a uid for a name) is trusted.
pub const NAME_TTL: Duration = Duration::from_mins(10);
/// How long "no such user" (or a failed lookup) is trusted.
pub const MISS_TTL: Duration = Duration::from_secs(30);

/// The name of user `uid`, from the system's user database (NSS).
///
/// `None` when the system knows no such user (a container started with
/// `--user 1234`) or the lookup failed.
///
/// ```
/// assert_eq!(nvitop::users::user_name(0).as_deref(), Some("root"));
/// assert_eq!(nvitop::users::user_name(3_999_999_999), None);
/// ```
pub fn user_name(uid: u32) -> Option<String> {
    cached(&NAMES, uid, || lookup_name(uid))
}

/// The uid of the user called `name`, from the system's user database
/// (NSS). A name that is a number is not taken as a uid here; see
/// [`user_name_or_uid`] for the other direction.
///
/// ```
/// assert_eq!(nvitop::users::user_id("root"), Some(0));
/// assert_eq!(nvitop::users::user_id("no such user here"), None);
/// ```
pub fn user_id(name: &str) -> Option<u32> {
    cached(&UIDS, name.to_owned(), || lookup_uid(name))
}

/// The name of user `uid`, or the uid as text when the system knows no
/// name for it: how process owners are shown (as `ps` does).
///
/// ```
/// assert_eq!(nvitop::users::user_name_or_uid(0), "root");
/// assert_eq!(nvitop::users::user_name_or_uid(3_999_999_999), "3999999999");
/// ```
pub fn user_name_or_uid(uid: u32) -> String {
    user_name(uid).unwrap_or_else(|| uid.to_string())
}

type Cache<K, V> = Mutex<Option<HashMap<K, (Option<V>, Instant)>>>;

static NAMES: Cache<u32, String> = Mutex::new(None);
static UIDS: Cache<String, u32> = Mutex::new(None);

/// The cached answer for `key`, or a fresh lookup. The lock is not held
/// during the lookup (it can take seconds on a slow directory server);
/// two threads asking at once both look up, which is harmless.
fn cached<K, V>(cache: &Cache<K, V>, key: K, lookup: impl FnOnce() -> std::io::Result<Option<V>>) -> Option<V>
where
    K: std::hash::Hash + Eq,
    V: Clone,
{
    {
        let guard = cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((value, at)) = guard.as_ref().and_then(|map| map.get(&key)) {
            let ttl = if value.is_some() { NAME_TTL } else { MISS_TTL };
            if at.elapsed() < ttl {
                return value.clone();
            }
        }
    }
    // A failed lookup (no answer from the directory) is remembered as a
    // miss: asking again for every process would stall every refresh.
    let value = lookup().ok().flatten();
    let mut guard = cache.lock().unwrap_or_else(PoisonError::into_inner);
    guard
        .get_or_insert_with(HashMap::new)
        .insert(key, (value.clone(), Instant::now()));
    value
}

/// `getpwuid_r(uid)`'s user name.
fn lookup_name(uid: u32) -> std::io::Result<Option<String>> {
    with_passwd(
        |pwd, buf, len, result| {
            // SAFETY: `pwd`, `buf` (of `len` bytes) and `result` are valid,
            // writable and outlive the call, as `getpwuid_r` requires; it is
            // the thread-safe variant (no static buffer).
            #[allow(unsafe_code)]
            unsafe {
                libc::getpwuid_r(uid, pwd, buf, len, result)
            }
        },
        |pwd| {
            // SAFETY: `pw_name` of an entry `getpwuid_r` filled in is a NUL-
            // terminated string inside `buf`, which is alive while `with_passwd`
            // calls this.
            #[allow(unsafe_code)]
            let name = unsafe { CStr::from_ptr(pwd.pw_name) };
            name.to_string_lossy().into_owned()
        },
    )
}

/// `getpwnam_r(name)`'s uid.
fn lookup_uid(name: &str) -> std::io::Result<Option<u32>> {
    // A name with a NUL byte names nobody.
    let Ok(name) = CString::new(name) else {
        return Ok(None);
    };
    with_passwd(
        |pwd, buf, len, result| {
            // SAFETY: `name` is a NUL-terminated string alive for the call;
            // `pwd`, `buf` (of `len` bytes) and `result` are valid and
            // writable, as `getpwnam_r` requires.
            #[allow(unsafe_code)]
            unsafe {
                libc::getpwnam_r(name.as_ptr(), pwd, buf, len, result)
            }
        },
        |pwd| pwd.pw_uid,
    )
}

/// The most buffer a lookup may use: entries are a few hundred bytes, but
/// an LDAP user's can be long (a long GECOS field).
const MAX_BUFFER: usize = 1 << 20;

/// Calls a `getpw*_r` function with a buffer that grows until the entry
/// fits, and reads what is needed of the entry while the buffer lives.
/// `Ok(None)`: no such user.
fn with_passwd<T>(
    call: impl Fn(*mut libc::passwd, *mut c_char, usize, *mut *mut libc::passwd) -> c_int,
    read: impl FnOnce(&libc::passwd) -> T,
) -> std::io::Result<Option<T>> {
    let mut size = 1024;
    loop {
        let mut buf: Vec<c_char> = vec![0; size];
        // SAFETY: `passwd` is a plain C struct of integers and pointers, for
        // which all-zero bytes are a valid (if meaningless) value; the
        // lookup overwrites it.
        #[allow(unsafe_code)]
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = call(&raw mut pwd, buf.as_mut_ptr(), buf.len(), &raw mut result);
        match rc {
            libc::ERANGE if size < MAX_BUFFER => {
                size *= 2;
                continue;
            }
            // The C library's ways of saying "no such user" (getpwnam_r(3)).
            0 | libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM if result.is_null() => return Ok(None),
            0 => {}
            errno => return Err(std::io::Error::from_raw_os_error(errno)),
        }
        // `result` points at `pwd` when an entry was found.
        return Ok(Some(read(&pwd)));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn root_both_ways_and_the_calling_user() {
        assert_eq!(lookup_name(0).unwrap().as_deref(), Some("root"));
        assert_eq!(lookup_uid("root").unwrap(), Some(0));
        let me = rustix::process::geteuid().as_raw();
        if let Some(name) = user_name(me) {
            assert_eq!(user_id(&name), Some(me));
        }
    }

    #[test]
    fn unknown_users_are_none_not_errors() {
        assert_eq!(lookup_name(3_999_999_999).unwrap(), None);
        assert_eq!(lookup_uid("nvitop-no-such-user").unwrap(), None);
        assert_eq!(lookup_uid("bad\0name").unwrap(), None);
        assert_eq!(user_name_or_uid(3_999_999_998), "3999999998");
    }

    #[test]
    fn a_short_buffer_grows_until_the_entry_fits() {
        // A call that wants 5000 bytes: ERANGE until the buffer has them.
        let calls = std::cell::Cell::new(0);
        let found = with_passwd(
            |pwd, _buf, len, result| {
                calls.set(calls.get() + 1);
                if len < 5000 {
                    return libc::ERANGE;
                }
                // SAFETY: test-only: `pwd` and `result` are the valid pointers
                // `with_passwd` passes.
                #[allow(unsafe_code)]
                unsafe {
                    (*pwd).pw_uid = 4242;
                    *result = pwd;
                }
                0
            },
            |pwd| pwd.pw_uid,
        )
        .unwrap();
        assert_eq!(found, Some(4242));
        assert_eq!(calls.get(), 4, "1024, 2048, 4096, 8192 bytes");
        // A real error is an error, not "no such user".
        let err = with_passwd(|_, _, _, _| libc::EIO, |pwd| pwd.pw_uid).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EIO));
    }
}
