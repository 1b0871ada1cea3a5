//! Who this process runs as: the name recorded as the owner of what a client creates.

/// `$USER`, else the account name of the real uid, else the uid as a number.
pub fn current() -> String {
    if let Ok(u) = std::env::var("USER") {
        if !u.is_empty() {
            return u;
        }
    }
    // SAFETY: getuid cannot fail; getpwuid_r writes only into the buffers we pass.
    #[allow(unsafe_code)]
    unsafe {
        let uid = libc::getuid();
        let mut pwd = std::mem::MaybeUninit::<libc::passwd>::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            uid,
            pwd.as_mut_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc == 0 && !result.is_null() {
            let name = std::ffi::CStr::from_ptr((*result).pw_name);
            if let Ok(n) = name.to_str() {
                return n.to_string();
            }
        }
        uid.to_string()
    }
}
